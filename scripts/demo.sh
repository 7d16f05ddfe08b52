#!/usr/bin/env bash
# make demo: the main job on the built-in lab. Builds the seed's Docker topology in network
# namespaces (nothing in this machine's own namespace changes), gives container1 its second
# NIC in one command (the seed's nine manual steps), shows the result and the traffic, and
# undoes it all — also when a stage fails. DEMO_KEEP=1 keeps the lab and the NIC.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-bin/netctl}
PREFIX=${DEMO_PREFIX:-netctl-demo}
HOST=$PREFIX-host C1=netns:$PREFIX-container1
SEED=(--bridge docker0 --address 172.17.0.99/24 --gateway 172.17.0.1 --default-route)
stage="" total=10 n=0

bold() { n=$((n + 1)); stage="$*"; printf '\n\033[1m== %d/%d %s\033[0m\n' "$n" "$total" "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  rc=$?
  if [ $rc -ne 0 ]; then
    printf '\ndemo: FAILED at stage "%s" (exit %d); cleaning up\n' "$stage" "$rc" >&2
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ] && [ $rc -eq 0 ]; then
    printf '\ndemo: DEMO_KEEP=1: lab %s kept; remove it with: %s lab down --prefix %s\n' "$PREFIX" "$NETCTL" "$PREFIX"
  else
    "$NETCTL" -n "$HOST" detach >/dev/null 2>&1 || true
    "$NETCTL" -n "$HOST" nic del "$C1" >/dev/null 2>&1 || true
    "$NETCTL" lab down --prefix "$PREFIX" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT

bold "doctor: what this machine can do"
run "$NETCTL" doctor || true

bold "the seed's starting point: docker0 with container1, container2 and an outside host"
if [ -e "/var/run/netns/$PREFIX-host" ]; then
  echo "demo: a lab with prefix $PREFIX exists already (left by DEMO_KEEP=1?): removing it first"
  "$NETCTL" -n "$HOST" detach >/dev/null 2>&1 || true
  "$NETCTL" -n "$HOST" nic del "$C1" >/dev/null 2>&1 || true
  "$NETCTL" lab down --prefix "$PREFIX"
fi
run "$NETCTL" lab up --prefix "$PREFIX"
run ip -n "$PREFIX-container1" route

bold "the seed's nine manual steps, as netctl would run them (--dry-run changes nothing)"
run "$NETCTL" -n "$HOST" nic add "$C1" "${SEED[@]}" --dry-run

bold "the same in one atomic command"
run "$NETCTL" -n "$HOST" nic add "$C1" "${SEED[@]}"
echo "container1's routing table is now the seed's:"
run ip -n "$PREFIX-container1" route
run "$NETCTL" -n "$HOST" nic list "$C1"

bold "bad input changes nothing: a taken address, a missing bridge"
run "$NETCTL" -n "$HOST" nic add "$C1" --name eth2 --bridge docker0 --address 172.17.0.3/16 && exit 1 || true
run "$NETCTL" -n "$HOST" nic add "$C1" --name eth2 --bridge br-missing --address 172.17.0.98/24 && exit 1 || true

bold "tc eBPF counters on every docker0 port (TCX, pinned: they outlive this command)"
run "$NETCTL" -n "$HOST" attach --bridge docker0

bold "bounded traffic: container2 -> container1, outside <-> container1"
run "$NETCTL" lab traffic --prefix "$PREFIX"

bold "the counters: requests enter container1 on eth0, its replies leave on eth1"
run "$NETCTL" -n "$HOST" status
run "$NETCTL" -n "$HOST" flows

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  stage="done"; printf '\ndemo: OK\n'; exit 0
fi

bold "nic del restores exactly what nic add changed"
run "$NETCTL" -n "$HOST" nic del "$C1"
run ip -n "$PREFIX-container1" route

bold "tear down: counters, then the lab"
run "$NETCTL" -n "$HOST" detach
run "$NETCTL" lab down --prefix "$PREFIX"
stage="done"
printf '\ndemo: OK. Next issues grow this demo: Prometheus, the asymmetric-flow detection and the alert.\n'
