#!/usr/bin/env bash
# Starts ps_server and Redis (persistence off) on free loopback ports and
# runs the embedding benchmark (gather by id against MGET) against both in
# one run. Extra arguments go to the benchmark (e.g. --seconds=5).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/redis_peer_lib.sh
start_ps_and_redis //benchmarks:embedding_benchmark
"$BIN"/benchmarks/embedding_benchmark --server="$PS_TARGET" --redis_port="$REDIS_PORT" "$@"
