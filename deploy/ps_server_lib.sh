# Sourced by the scripts that run ps_server in the background (deploy/demo.sh,
# benchmarks/redis_peer_lib.sh, benchmarks/run_load_test.sh,
# benchmarks/run_model_sync_benchmark.sh).
#
#   start_ps_server BINARY OUT_PREFIX [FLAGS...]
#
# Starts BINARY --port=0 FLAGS... in the background, its stdout in
# OUT_PREFIX.out and its log (stderr) in OUT_PREFIX.log, and waits up to 30 s
# for the line it prints once listening. Sets PS_PID and PS_TARGET (host:port).
# When the server exits or stays silent, prints its log and returns 1.

start_ps_server() {
  local binary=$1 prefix=$2
  shift 2
  "$binary" --port=0 "$@" >"$prefix.out" 2>"$prefix.log" &
  PS_PID=$!
  PS_TARGET=""
  local _
  for _ in $(seq 300); do
    PS_TARGET=$(sed -n 's/^ps_server listening on //p' "$prefix.out" 2>/dev/null)
    if [[ -n $PS_TARGET ]]; then return 0; fi
    kill -0 "$PS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "ps_server did not start:" >&2
  cat "$prefix.log" >&2
  return 1
}
