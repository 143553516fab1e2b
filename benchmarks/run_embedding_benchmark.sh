#!/usr/bin/env bash
# Starts ps_server and Redis (persistence off) on free loopback ports and
# runs the embedding benchmark (gather by id against MGET) against both in
# one run. Extra arguments go to the benchmark (e.g. --seconds=5).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
for package in redis-server libhiredis-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server libhiredis-dev >/dev/null
    break
  }
done
# BAZEL may carry startup options, e.g. BAZEL="bazel --output_base=DIR".
BAZEL=${BAZEL:-bazel}
$BAZEL build //server:ps_server //benchmarks:embedding_benchmark
bin=$($BAZEL info bazel-bin 2>/dev/null)

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
source deploy/ps_server_lib.sh
trap 'kill ${PS_PID:-} $redis_pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
start_ps_server "$bin"/server/ps_server "$work/ps" --max_total_bytes=$((8 << 30))
"$bin"/benchmarks/embedding_benchmark --server="$PS_TARGET" --redis_port="$redis_port" "$@"
