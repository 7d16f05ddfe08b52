#!/usr/bin/env bash
# make demo: the main job on the built-in lab. Builds the seed's Docker topology in network
# namespaces (nothing in this machine's own namespace changes), gives container1 its second
# NIC in one command (the seed's nine manual steps), runs `netctl serve`, sends bounded
# traffic, shows the counters, the Prometheus metrics and the asymmetric conversations with
# their cause, the seed's UDP server answering from the wrong address and its fix, the
# bridge flooding the frames for eth0 to every container, applies the fix (source
# routing) and shows the asymmetric bytes stop, then undoes it all — also when a stage
# fails. DEMO_KEEP=1 keeps the lab, the NIC and serve.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-bin/netctl}
PREFIX=${DEMO_PREFIX:-netctl-demo}
LISTEN=${DEMO_LISTEN:-127.0.0.1:10961}
PROM=${DEMO_PROM_LISTEN:-127.0.0.1:19090}
IDLE=${DEMO_IDLE:-15s} # how long a conversation counts as active after its last packet
HOST=$PREFIX-host C1=netns:$PREFIX-container1
SEED=(--bridge docker0 --address 172.17.0.99/24 --gateway 172.17.0.1 --default-route)
LOG=$(mktemp -t netctl-demo-serve.XXXXXX)
PROMDIR=$(mktemp -d -t netctl-demo-prom.XXXXXX)
stage="" total=16 n=0 serve_pid="" prom_pid=""

bold() { n=$((n + 1)); stage="$*"; printf '\n\033[1m== %d/%d %s\033[0m\n' "$n" "$total" "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }
asym_bytes() {
  curl -fsS --max-time 5 "http://$LISTEN/metrics" | awk -v c="$PREFIX-container1" \
    'index($0, "netctl_asymmetric_bytes_total{container=\"" c "\",in_interface=\"eth0\",out_interface=\"eth1\"}") == 1 {print $2}'
}

# alert_state NAME: firing, pending or inactive, as Prometheus's API says.
alert_state() { curl -fsS --max-time 5 "http://$PROM/api/v1/alerts" | scripts/prom-alerts.py state "$1"; }

# port_free ADDR: nothing listens on ADDR's port yet.
port_free() { ! ss -Htln "sport = :${1##*:}" | grep -q .; }

# wait_alert NAME STATE SECONDS
wait_alert() {
  for _ in $(seq "$3"); do
    kill -0 "$prom_pid" 2>/dev/null || { echo "demo: Prometheus exited:" >&2; tail -5 "$PROMDIR/prometheus.log" >&2; return 1; }
    [ "$(alert_state "$1")" = "$2" ] && return 0
    sleep 1
  done
  echo "demo: alert $1 did not become $2 within $3 s" >&2
  return 1
}

stop_prom() {
  if [ -n "$prom_pid" ] && kill -0 "$prom_pid" 2>/dev/null; then
    kill -TERM "$prom_pid"; wait "$prom_pid" 2>/dev/null || true
  fi
  prom_pid=""
}

stop_serve() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  fi
  serve_pid=""
}

cleanup() {
  rc=$?
  if [ $rc -ne 0 ]; then
    printf '\ndemo: FAILED at stage "%s" (exit %d); cleaning up\n' "$stage" "$rc" >&2
    [ -s "$LOG" ] && { echo "--- netctl serve's log:" >&2; tail -20 "$LOG" >&2; }
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ] && [ $rc -eq 0 ]; then
    printf '\ndemo: DEMO_KEEP=1: netctl serve (pid %s) at http://%s/ , Prometheus (pid %s) at http://%s/ , lab %s kept.\n' \
      "$serve_pid" "$LISTEN" "$prom_pid" "$PROM" "$PREFIX"
    printf 'remove with: kill %s %s; %s -n %s detach; %s -n %s nic del %s; %s lab down --prefix %s\n' \
      "$serve_pid" "$prom_pid" "$NETCTL" "$HOST" "$NETCTL" "$HOST" "$C1" "$NETCTL" "$PREFIX"
  else
    stop_prom
    stop_serve
    "$NETCTL" -n "$HOST" detach >/dev/null 2>&1 || true
    "$NETCTL" -n "$HOST" nic del "$C1" >/dev/null 2>&1 || true
    "$NETCTL" lab down --prefix "$PREFIX" >/dev/null 2>&1 || true
    rm -rf "$LOG" "$PROMDIR"
  fi
  exit $rc
}
trap cleanup EXIT

stage="free ports"
for addr in "$LISTEN" "$PROM"; do
  port_free "$addr" || { echo "demo: $addr is taken; set DEMO_LISTEN / DEMO_PROM_LISTEN to free addresses" >&2; exit 1; }
done

bold "doctor: what this machine can do"
run "$NETCTL" doctor || true

bold "the seed's starting point: docker0 with container1, container2 (and container3) and an outside host"
if [ -e "/var/run/netns/$PREFIX-host" ]; then
  echo "demo: a lab with prefix $PREFIX exists already (left by DEMO_KEEP=1?): removing it first"
  "$NETCTL" -n "$HOST" detach >/dev/null 2>&1 || true
  "$NETCTL" -n "$HOST" nic del "$C1" >/dev/null 2>&1 || true
  "$NETCTL" lab down --prefix "$PREFIX"
fi
run "$NETCTL" lab up --prefix "$PREFIX" --container3 >/dev/null
run ip -n "$PREFIX-container1" route

bold "the seed's nine manual steps, as netctl would run them (--dry-run changes nothing)"
run "$NETCTL" -n "$HOST" nic add "$C1" "${SEED[@]}" --dry-run

bold "the same in one atomic command; container1's routing table is now the seed's"
run "$NETCTL" -n "$HOST" nic add "$C1" "${SEED[@]}"
run ip -n "$PREFIX-container1" route
run "$NETCTL" -n "$HOST" nic list "$C1"

bold "bad input changes nothing: a taken address, a missing bridge"
run "$NETCTL" -n "$HOST" nic add "$C1" --name eth2 --bridge docker0 --address 172.17.0.3/16 && exit 1 || true
run "$NETCTL" -n "$HOST" nic add "$C1" --name eth2 --bridge br-missing --address 172.17.0.98/24 && exit 1 || true

bold "netctl serve: tc eBPF counters on every docker0 port, /metrics for Prometheus"
printf '$ %s -n %s serve --web.listen-address %s --flow-idle-timeout %s &\n' "$NETCTL" "$HOST" "$LISTEN" "$IDLE"
"$NETCTL" -n "$HOST" serve --web.listen-address "$LISTEN" --flow-idle-timeout "$IDLE" >"$LOG" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do
  kill -0 "$serve_pid" 2>/dev/null || break
  curl -fsS --max-time 5 "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS --max-time 5 "http://$LISTEN/healthz" >/dev/null || { echo "serve did not come up"; exit 1; }
grep -h "port attached" "$LOG" || true

bold "a real Prometheus with the shipped scrape config and alert rules (demo: for: 5s)"
# The shipped files, with the demo's addresses, a fast scrape and a short for:.
sed -e "s#localhost:10961#$LISTEN#g; s#127.0.0.1:10961#$LISTEN#g" \
    -e 's#scrape_interval: .*#scrape_interval: 2s#; s#scrape_timeout: .*#scrape_timeout: 2s#; s#evaluation_interval: .*#evaluation_interval: 2s#' \
    -e "s#netctl-alerts.yml#$PROMDIR/netctl-alerts.yml#" deploy/prometheus/prometheus.yml >"$PROMDIR/prometheus.yml"
sed -e 's#for: .*#for: 5s#' deploy/prometheus/netctl-alerts.yml >"$PROMDIR/netctl-alerts.yml"
run promtool check config "$PROMDIR/prometheus.yml" | tail -1
printf '$ prometheus --config.file=%s --web.listen-address=%s &\n' "$PROMDIR/prometheus.yml" "$PROM"
prometheus --config.file="$PROMDIR/prometheus.yml" --storage.tsdb.path="$PROMDIR/data" \
  --web.listen-address="$PROM" >"$PROMDIR/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 100); do
  kill -0 "$prom_pid" 2>/dev/null || break
  curl -fsS --max-time 5 "http://$PROM/-/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS --max-time 5 "http://$PROM/-/ready" >/dev/null || { tail -20 "$PROMDIR/prometheus.log"; exit 1; }
echo "Prometheus ready at http://$PROM/"

bold "bounded traffic: container2 -> container1, outside <-> container1, host -> container1"
run "$NETCTL" lab traffic --prefix "$PREFIX"
run ip netns exec "$HOST" ping -q -c 5 -i 0.2 172.17.0.2 | tail -2

bold "what netctl sees: requests enter container1 on eth0, its replies leave on eth1"
run "$NETCTL" -n "$HOST" status
printf '$ curl -s http://%s/metrics | grep asymmetric\n' "$LISTEN"
curl -fsS --max-time 5 "http://$LISTEN/metrics" | grep asymmetric | grep -v '^#'
run "$NETCTL" -n "$HOST" flows --asymmetric

bold "the alert NetctlAsymmetricRouting, as Prometheus's API reports it"
wait_alert NetctlAsymmetricRouting firing 60
printf '$ curl -s http://%s/api/v1/alerts\n' "$PROM"
curl -fsS --max-time 5 "http://$PROM/api/v1/alerts" | scripts/prom-alerts.py list

bold "the seed's third symptom: a UDP server bound to 0.0.0.0 answers 172.17.0.2 from 172.17.0.99"
run "$NETCTL" lab udp --prefix "$PREFIX" || true
printf '$ curl -s http://%s/metrics | grep wrong_source\n' "$LISTEN"
curl -fsS --max-time 5 "http://$LISTEN/metrics" | grep wrong_source | grep -v '^#'
run "$NETCTL" -n "$HOST" flows --wrong-source
wait_alert NetctlWrongSourceReplies firing 60
printf 'NetctlWrongSourceReplies: %s\n' "$(alert_state NetctlWrongSourceReplies)"
echo "the fix: the server bound to the address it is asked at (or IP_PKTINFO); routing cannot do it"
run "$NETCTL" lab udp --prefix "$PREFIX" --bind 172.17.0.2 --port 7778

bold "docker0 forgets eth0's MAC (eth0 sends nothing; 300 s on a real host, at once here): flooding"
run ip -n "$HOST" link set docker0 type bridge ageing_time 0
run ip netns exec "$PREFIX-container2" ping -q -c 20 -i 0.05 172.17.0.2 | tail -1
printf '$ curl -s http://%s/metrics | grep flooded | grep -v " 0$"\n' "$LISTEN"
curl -fsS --max-time 5 "http://$LISTEN/metrics" | grep flooded | grep -v '^#' | grep -v ' 0$'
echo "container3 and container1's eth1 got copies of what was sent to eth0; they are counted apart, in no flow,"
echo "and the asymmetry is still seen as it is (in eth0, out eth1):"
run "$NETCTL" -n "$HOST" flows --asymmetric --idle 2s
run ip -n "$HOST" link set docker0 type bridge ageing_time 30000

bold "the fix: source routing, so replies leave where requests came in"
before=$(asym_bytes)
run "$NETCTL" -n "$HOST" nic del "$C1"
run "$NETCTL" -n "$HOST" nic add "$C1" "${SEED[@]}" --source-routing
sleep 0.5
mid=$(asym_bytes)
run "$NETCTL" lab traffic --prefix "$PREFIX" >/dev/null
run ip netns exec "$PREFIX-container2" ping -q -c 20 -i 0.05 172.17.0.2 | tail -1
after=$(asym_bytes)
printf 'netctl_asymmetric_bytes_total for %s-container1 eth0 -> eth1: %s before the fix, %s after it, %s after more traffic\n' \
  "$PREFIX" "$before" "$mid" "$after"
[ "$mid" = "$after" ] || { echo "demo: asymmetric bytes still grow after the fix"; exit 1; }
run "$NETCTL" -n "$HOST" flows --asymmetric --idle 2s
echo "source routing does not change the source of an unbound reply: the 0.0.0.0 server still answers from .99"
run "$NETCTL" lab udp --prefix "$PREFIX" --count 3 || true
echo "waiting for the old conversations to go idle ($IDLE) and the alert to resolve..."
for _ in 1 2 3; do # keep traffic flowing meanwhile, all of it symmetric now
  ip netns exec "$PREFIX-container2" ping -q -c 10 -i 0.2 172.17.0.2 >/dev/null
done
wait_alert NetctlAsymmetricRouting inactive 90
printf 'NetctlAsymmetricRouting: %s (resolved)\n' "$(alert_state NetctlAsymmetricRouting)"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  stage="done"; printf '\ndemo: OK\n'; exit 0
fi

bold "nic del restores exactly what nic add changed"
run "$NETCTL" -n "$HOST" nic del "$C1"
run ip -n "$PREFIX-container1" route

bold "netctl top --once: one frame of the live view (rates over 1 s while traffic runs)"
(for _ in 1 2 3 4 5 6; do "$NETCTL" lab traffic --prefix "$PREFIX" >/dev/null; sleep 0.2; done) & # about 2 s
traffic_pid=$!
run "$NETCTL" -n "$HOST" top --once --interval 1s --idle "$IDLE"
wait "$traffic_pid"
echo "(live: $NETCTL -n $HOST top; keys: 1 2 3 views, s sort, / filter, space pause, ? help, q quit)"

bold "tear down: Prometheus, serve, counters, the lab"
stop_prom
stop_serve
run "$NETCTL" -n "$HOST" detach
run "$NETCTL" lab down --prefix "$PREFIX"
stage="done"
printf '\ndemo: OK\n'
