#!/usr/bin/env bash
# Starts Redis (persistence off) on a free loopback port and runs the dynamic
# table benchmark: inserts and lookups per second in process, and memory per
# stored row against Redis holding the same rows. Extra arguments go to the
# benchmark (e.g. --rows=200000).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/redis_peer_lib.sh
start_redis //benchmarks:dynamic_table_benchmark
# Wait until Redis answers.
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN"/benchmarks/dynamic_table_benchmark --redis_port="$REDIS_PORT" "$@"
