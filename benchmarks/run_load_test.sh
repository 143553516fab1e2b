#!/usr/bin/env bash
# Starts ps_server on a free loopback port, durable (a temporary --data_dir,
# --wal_fsync=everysec), and runs the load test against it; extra arguments
# go to load_test, e.g. --clients=16 --seconds=30 --mix=get:0,pull:50,push:50.
# Exits with load_test's status: 0 only on PASS.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
# BAZEL may carry startup options, e.g. BAZEL="bazel --output_base=DIR".
BAZEL=${BAZEL:-bazel}
$BAZEL build //server:ps_server //benchmarks:load_test
bin=$($BAZEL info bazel-bin 2>/dev/null)

work=$(mktemp -d)
"$bin"/server/ps_server --port=0 --data_dir="$work/data" --wal_fsync=everysec \
  >"$work/ps.out" 2>"$work/ps.log" &
ps_pid=$!
trap 'kill $ps_pid 2>/dev/null || true; wait $ps_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$work/ps.out" 2>/dev/null && break
  sleep 0.1
done
server=$(sed -n 's/^ps_server listening on //p' "$work/ps.out")
if [[ -z $server ]]; then
  echo "ps_server did not start:" >&2
  cat "$work/ps.log" >&2
  exit 1
fi
status=0
"$bin"/benchmarks/load_test --server="$server" "$@" || status=$?
kill -TERM "$ps_pid"
wait "$ps_pid" || echo "ps_server exited with status $?" >&2
exit "$status"
