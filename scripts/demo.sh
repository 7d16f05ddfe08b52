#!/usr/bin/env bash
# make demo: the main job on the built-in lab. Builds the seed's Docker topology in network
# namespaces (nothing in this machine's own namespace changes), shows it, sends bounded
# traffic, and tears it down — also when a stage fails. DEMO_KEEP=1 keeps the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-bin/netctl}
PREFIX=${DEMO_PREFIX:-netctl-demo}
stage=""

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  rc=$?
  if [ $rc -ne 0 ]; then
    printf '\ndemo: FAILED at stage "%s" (exit %d); cleaning up\n' "$stage" "$rc" >&2
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ] && [ $rc -eq 0 ]; then
    printf '\ndemo: DEMO_KEEP=1: lab %s kept; remove it with: %s lab down --prefix %s\n' "$PREFIX" "$NETCTL" "$PREFIX"
  else
    "$NETCTL" lab down --prefix "$PREFIX" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT

stage="doctor"; bold "1/5 doctor: what this machine can do"
run "$NETCTL" doctor || true

stage="lab up"; bold "2/5 the seed's starting point: docker0 with container1, container2 and an outside host"
if ip netns list | grep -q "^$PREFIX-host\b"; then
  echo "demo: a lab with prefix $PREFIX exists already (left by DEMO_KEEP=1?): removing it first"
  "$NETCTL" lab down --prefix "$PREFIX"
fi
run "$NETCTL" lab up --prefix "$PREFIX"

stage="lab status"; bold "3/5 topology"
run "$NETCTL" lab status --prefix "$PREFIX"

stage="lab traffic"; bold "4/5 bounded traffic: container2 -> container1, outside <-> container1"
run "$NETCTL" lab traffic --prefix "$PREFIX"

stage="lab down"; bold "5/5 tear down"
if [ "${DEMO_KEEP:-0}" != 1 ]; then
  run "$NETCTL" lab down --prefix "$PREFIX"
fi
stage="done"
printf '\ndemo: OK. Next issues grow this demo: nic add, eBPF counters, Prometheus and the alert.\n'
