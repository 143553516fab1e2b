#!/usr/bin/env bash
# Starts ps_server and Redis (persistence off) on free loopback ports and
# runs the data-plane benchmark against both in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/redis_peer_lib.sh
start_ps_and_redis //benchmarks:data_plane_benchmark
"$BIN"/benchmarks/data_plane_benchmark --server="$PS_TARGET" --redis_port="$REDIS_PORT" \
  --server_pid="$PS_PID" --redis_pid="$REDIS_PID" "$@"
