#!/usr/bin/env bash
# The Python client against PyTorch's parameter-server pattern over
# torch.distributed.rpc, alternating in one run: a ResNet-50-shaped model
# (161 variables, 102 MB) pulled whole and pushed whole (SGD on the server)
# every step, with 1 and 2 worker processes. PyTorch runs with the TCP
# transport as shipped and with glibc keeping freed memory for reuse (as
# ps_server and the Python client do). Then one 64 MB variable pulled and
# pushed alone by the Python client and by the C++ client; then the image
# filter's training step with 2 workers, ours and PyTorch RPC's
# (benchmarks/image_filter_step.py). Prints medians and ratios.
#
#   benchmarks/run_python_benchmark.sh [rounds] [min_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
deploy/install_deps.sh
python=/usr/bin/python3  # Debian's packages live in Debian's interpreter.
bash client/python/generate_proto.sh >/dev/null
export PYTHONPATH=$PWD/client/python
BAZEL=${BAZEL:-bazel}
$BAZEL build //server:ps_server //benchmarks:model_sync_benchmark
bin=$($BAZEL info bazel-bin 2>/dev/null)

work=$(mktemp -d)
source deploy/ps_server_lib.sh
trap 'kill ${PS_PID:-} 2>/dev/null; wait 2>/dev/null || true' EXIT
start_ps_server "$bin"/server/ps_server "$work/ps" --max_total_bytes=$((8 << 30))
results=$work/results.jsonl
ours="$python benchmarks/python_model_sync.py --server=$PS_TARGET --min_seconds=$seconds"
cpp="$bin/benchmarks/model_sync_benchmark --server=$PS_TARGET --min_seconds=$seconds"
for round in $(seq "$rounds"); do
  for workers in 1 2; do
    echo "== round $round, $workers worker(s)" >&2
    $ours --workers="$workers" >>"$results"
    for malloc in default tuned; do
      "$python" benchmarks/torch_rpc_model_sync.py --workers="$workers" \
        --transport=tcp --malloc="$malloc" --min_seconds="$seconds" \
        2>/dev/null >>"$results"
    done
  done
  echo "== round $round, 64 MB alone" >&2
  for mode in pull push; do
    $ours --model=single64mb --mode="$mode" >>"$results"
    $cpp --model=single64mb --mode="$mode" >>"$results"
  done
  echo "== round $round, the image filter's training step, 2 workers" >&2
  "$python" benchmarks/image_filter_step.py --peer=paramserver \
    --server="$PS_TARGET" --min_seconds="$seconds" >>"$results"
  for malloc in default tuned; do
    "$python" benchmarks/image_filter_step.py --peer=rpc --malloc="$malloc" \
      --min_seconds="$seconds" 2>/dev/null >>"$results"
  done
done
"$python" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def median(peer, key="steps_per_second", **match):
    values = [r[key] for r in rows if r["peer"].startswith(peer)
              and all(r.get(k) == v for k, v in match.items())]
    return statistics.median(values) if values else float("nan")
print("Model sync from Python, ResNet-50 shape (161 variables, 102 MB), "
      "median steps/s")
print(f"{'workers':>8} {'ours (Python)':>14} {'rpc tcp':>8} {'rpc tcp+':>9} "
      f"{'ours/tcp':>9} {'ours/tcp+':>10}")
for workers in (1, 2):
    ours = median("paramserver (Python", workers=workers, model="resnet50")
    tcp = median("torch.distributed.rpc (tcp)", workers=workers,
                 model="resnet50")
    tuned = median("torch.distributed.rpc (tcp, malloc tuned)",
                   workers=workers, model="resnet50")
    print(f"{workers:>8} {ours:14.2f} {tcp:8.2f} {tuned:9.2f} "
          f"{ours / tcp:9.2f} {ours / tuned:10.2f}")
print()
print("One 64 MB variable, median GB/s")
print(f"{'case':>6} {'Python':>8} {'C++':>8} {'Python/C++':>11}")
for mode in ("pull", "push"):
    py = median("paramserver (Python", "gb_per_second", mode=mode)
    cc = median("paramserver (C++", "gb_per_second", mode=mode)
    print(f"{mode:>6} {py:8.2f} {cc:8.2f} {py / cc:11.2f}")
print()
print("The image filter's training step (pull, forward, backward, push; "
      "batch 8, 64x64x32), 2 workers, median steps/s")
ours = median("paramserver (Python", model="image_filter")
tcp = median("torch.distributed.rpc (tcp)", model="image_filter")
tuned = median("torch.distributed.rpc (tcp, malloc tuned)",
               model="image_filter")
print(f"{'ours (Python)':>14} {'rpc tcp':>8} {'rpc tcp+':>9} {'ours/tcp':>9} "
      f"{'ours/tcp+':>10}")
print(f"{ours:14.2f} {tcp:8.2f} {tuned:9.2f} {ours / tcp:9.2f} "
      f"{ours / tuned:10.2f}")
PY
