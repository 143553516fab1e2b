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
source deploy/ps_server_lib.sh
trap 'kill ${PS_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
start_ps_server "$bin"/server/ps_server "$work/ps" --data_dir="$work/data" --initialize_data_dir --wal_fsync=everysec
ps_pid=$PS_PID
server=$PS_TARGET
status=0
"$bin"/benchmarks/load_test --server="$server" "$@" || status=$?
kill -TERM "$ps_pid"
wait "$ps_pid" || echo "ps_server exited with status $?" >&2
exit "$status"
