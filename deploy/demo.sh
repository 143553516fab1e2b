#!/usr/bin/env bash
# The main job: builds everything, starts a parameter server on a free
# loopback port and runs real workers against it. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
bazel build //server:ps_server //client:psctl //examples:all

bin=$(bazel info bazel-bin 2>/dev/null)
work=$(mktemp -d)
log=$work/ps_server.log
source deploy/ps_server_lib.sh
# Extra flags go to ps_server: the first start passes --initialize_data_dir,
# restarts find the data the first one left.
start_server() {
  start_ps_server "$bin/server/ps_server" "$work/ps_server" --data_dir="$work/data" "$@"
  server_pid=$PS_PID
  server=$PS_TARGET
  echo "== ps_server listening on $server (data in $work/data)"
}
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true' EXIT
start_server --initialize_data_dir
psctl() { "$bin/client/psctl" --server="$server" "$@"; }

echo "== Four workers run the seed's sharing example at once"
"$bin/examples/variable_sharing" --server="$server" --workers=4

echo "== The seed's image filter on two images: tf.Variable vs tf.get_variable"
"$bin/examples/image_filter_demo" --server="$server"
psctl delete --scope=conv1 >/dev/null
psctl delete --scope=conv2 >/dev/null

echo "== Two workers train the image filter together (pull, oneDNN, push; Adam on the server)"
for worker in 0 1; do
  "$bin/examples/train_image_filter" --server="$server" --worker=$worker \
    --steps=150 --log_every=25 &
done
wait %2 %3
echo "== From Python: the seed's image filter with PyTorch doing the convolutions"
bash client/python/generate_proto.sh >/dev/null
export PYTHONPATH=$PWD/client/python
/usr/bin/python3 examples/python/image_filter.py --server="$server"
psctl delete --scope=image_filters >/dev/null

echo "== Two Python workers train the filter together (PyTorch autograd; Adam on the server)"
python_workers=()
for worker in 2 3; do
  /usr/bin/python3 examples/python/train_image_filter.py --server="$server" \
    --worker=$worker --steps=100 --log_every=50 &
  python_workers+=($!)
done
for pid in "${python_workers[@]}"; do wait "$pid"; done

echo "== A Python worker (PyTorch) and a C++ worker (oneDNN) train the same filter at once"
"$bin/examples/train_image_filter" --server="$server" --worker=0 \
  --steps=150 --log_every=50 &
cpp_worker=$!
/usr/bin/python3 examples/python/train_image_filter.py --server="$server" \
  --worker=1 --steps=150 --log_every=50 &
python_worker=$!
wait $cpp_worker
wait $python_worker
echo "== The trained variables and their optimizer slots"
psctl list student

echo "== psctl: create, reuse, list"
psctl get --scope=conv1 --name=biases --shape=4 --initializer=zeros --values
psctl get --scope=conv1 --name=weights --shape=5,5,3,4 \
  --initializer=truncated_normal --stddev=0.1 --seed=7
psctl get --scope=conv1 --name=weights --reuse=true
psctl get --scope=conv1 --name=weights --reuse=false || true
psctl list

echo "== Clean shutdown (SIGTERM writes a final checkpoint)"
kill -TERM $server_pid
wait $server_pid
tail -n 3 "$log"

echo "== Restart on the same data directory: the trained variables are back"
start_server
grep -E "Loaded checkpoint|Restored" "$log" | sed 's/^/   /'
psctl list student/conv1
echo "== Kill -9 after one more assignment: the write-ahead log brings it back"
psctl get --name=after_crash --shape=2 --initializer=constant --value=7 >/dev/null
kill -KILL $server_pid
wait $server_pid 2>/dev/null || true
start_server
psctl read after_crash --values
kill -TERM $server_pid
wait $server_pid

echo "== Three sharded servers: each variable lives on the shard its name hashes to"
shard_pids=()
shards=()
trap 'kill "${shard_pids[@]}" 2>/dev/null; wait 2>/dev/null || true' EXIT
for shard in 0 1 2; do
  start_ps_server "$bin/server/ps_server" "$work/shard$shard" --job=demo \
    --shard_index=$shard --shard_count=3 --data_dir="$work/shard$shard" \
    --initialize_data_dir
  shard_pids+=("$PS_PID")
  shards+=("$PS_TARGET")
done
servers=$(IFS=,; echo "${shards[*]}")
echo "   --servers=$servers"
worker_pids=()
for worker in 0 1; do
  "$bin/examples/train_image_filter" --servers="$servers" --job=demo \
    --worker=$worker --steps=100 --log_every=50 &
  worker_pids+=($!)
done
for pid in "${worker_pids[@]}"; do wait "$pid"; done
for shard in 0 1 2; do
  echo "   shard $shard (${shards[shard]}):" \
    $("$bin/client/psctl" --server="${shards[shard]}" list student |
      sed 's/.*"name":"\([^"]*\)".*/\1/')
done
echo "== A click model: its hashed-feature table partitioned over the three shards, sparse Adagrad pushes"
"$bin/examples/train_click_model" --servers="$servers" --job=demo --workers=2 \
  --steps=400 --log_every=200 --max_log_loss=0.55 | sed 's/^/   /'
"$bin/client/psctl" --servers="$servers" --job=demo list click |
  sed 's/.*"name":"\([^"]*\)".*/   \1/'
echo "== A worker listing the shards in another order is refused, and creates nothing"
reversed="${shards[2]},${shards[1]},${shards[0]}"
"$bin/examples/train_image_filter" --servers="$reversed" --job=demo \
  --worker=2 --steps=1 2>&1 | tail -n 1 | sed 's/^/   /' || true
echo "== Each shard's place, cluster and incarnation (psctl info)"
"$bin/client/psctl" --servers="$servers" --job=demo info | sed 's/^/   /'
kill -TERM "${shard_pids[@]}"
wait "${shard_pids[@]}"
trap - EXIT
