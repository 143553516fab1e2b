# Sourced by the benchmarks that compare ps_server with Redis
# (run_data_plane_benchmark.sh, run_embedding_benchmark.sh) and Redis's
# memory with the dynamic table's (run_dynamic_table_benchmark.sh).
#
#   start_ps_and_redis BENCHMARK_TARGET
#
# Installs what the build and Redis need, builds ps_server and
# BENCHMARK_TARGET, then starts Redis (persistence off) and ps_server on free
# loopback ports, both stopped and their scratch directory removed when the
# script exits. Sets BIN (bazel-bin), REDIS_PORT, REDIS_PID, PS_PID and
# PS_TARGET. BAZEL may carry startup options, e.g.
# BAZEL="bazel --output_base=DIR".

start_ps_and_redis() {
  start_redis "$1" //server:ps_server
  source deploy/ps_server_lib.sh
  trap 'kill ${PS_PID:-} $REDIS_PID 2>/dev/null; wait 2>/dev/null || true; rm -rf "$PEER_WORK"' EXIT
  start_ps_server "$BIN"/server/ps_server "$PEER_WORK/ps" --max_total_bytes=$((8 << 30))
}

#   start_redis TARGET...
#
# The Redis half of start_ps_and_redis: installs, builds TARGETs, starts
# Redis; sets BIN, REDIS_PORT, REDIS_PID and PEER_WORK, all gone on exit.
start_redis() {
  deploy/install_deps.sh
  local package
  for package in redis-server libhiredis-dev; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server libhiredis-dev >/dev/null
      break
    }
  done
  local bazel=${BAZEL:-bazel}
  $bazel build "$@"
  BIN=$($bazel info bazel-bin 2>/dev/null)
  PEER_WORK=$(mktemp -d)
  REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --dir "$PEER_WORK" >"$PEER_WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  trap 'kill $REDIS_PID 2>/dev/null; wait 2>/dev/null || true; rm -rf "$PEER_WORK"' EXIT
}
