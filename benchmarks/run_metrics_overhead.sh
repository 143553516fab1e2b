#!/usr/bin/env bash
# What collecting metrics costs: the data-plane benchmark against two
# ps_servers in one run, one with --http_port (every call counted by the
# metrics interceptor, /metrics scraped every second meanwhile, fifteen
# times as often as Prometheus' default) and one without, alternating.
# Prints each case's median over the rounds, ours with metrics on and off,
# and their ratio.
#
#   benchmarks/run_metrics_overhead.sh [rounds] [seconds_per_case]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-3}
source benchmarks/redis_peer_lib.sh
start_redis //benchmarks:data_plane_benchmark //server:ps_server
source deploy/ps_server_lib.sh
start_ps_server "$BIN"/server/ps_server "$PEER_WORK/off" --max_total_bytes=$((8 << 30))
off_pid=$PS_PID off_target=$PS_TARGET
start_ps_server "$BIN"/server/ps_server "$PEER_WORK/on" --max_total_bytes=$((8 << 30)) \
  --http_port=0
on_pid=$PS_PID on_target=$PS_TARGET
trap 'kill $off_pid $on_pid $REDIS_PID ${scraper:-} 2>/dev/null; wait 2>/dev/null || true; rm -rf "$PEER_WORK"' EXIT
http_port=$(sed -n 's/.*HTTP on [^ ]*:\([0-9]*\).*/\1/p' "$PEER_WORK/on.log")
# A scraper: GET /metrics once a second over bash's /dev/tcp.
(
  while true; do
    exec 3<>"/dev/tcp/127.0.0.1/$http_port" || exit 1
    printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    cat <&3 >"$PEER_WORK/last_scrape"
    exec 3>&-
    sleep 1
  done
) &
scraper=$!
for round in $(seq "$rounds"); do
  for mode in off on; do
    target=$off_target pid=$off_pid
    if [[ $mode == on ]]; then target=$on_target pid=$on_pid; fi
    echo "== round $round, metrics $mode" >&2
    "$BIN"/benchmarks/data_plane_benchmark --server="$target" \
      --redis_port="$REDIS_PORT" --server_pid="$pid" --redis_pid="$REDIS_PID" \
      --seconds="$seconds" | sed "s/^/$mode /" >>"$PEER_WORK/results"
  done
done
grep -q "grpc_server_handled_total" "$PEER_WORK/last_scrape" ||
  { echo "the scraper got no metrics" >&2; exit 1; }
/usr/bin/python3 - "$PEER_WORK/results" <<'PY'
import collections, re, statistics, sys
# Lines "MODE case... OURS REDIS RATIO UNIT" from the benchmark's table.
row = re.compile(r"^(\S+) (.*?)\s+([0-9.]+)\s+(?:[0-9.]+|-)\s+\S+\s+(.*)$")
figures = collections.defaultdict(list)
for line in open(sys.argv[1]):
    found = row.match(line.rstrip("\n"))
    if not found:
        continue
    mode, case, ours, _ = found.groups()
    figures[(case, mode)].append(float(ours))
cases = list(dict.fromkeys(case for case, _ in figures))
print("| case | metrics off | metrics on | on/off |")
print("|---|---|---|---|")
for case in cases:
    off = statistics.median(figures[(case, "off")])
    on = statistics.median(figures[(case, "on")])
    print(f"| {case.strip()} | {off:,.3f} | {on:,.3f} | {on / off:.3f} |")
PY
