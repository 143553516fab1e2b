#!/usr/bin/env bash
# Model sync, ours against PyTorch's parameter-server pattern over
# torch.distributed.rpc, alternating in one run: a ResNet-50-shaped model
# (161 variables, 102 MB) pulled whole and pushed whole (SGD on the server)
# every step, with 1 and 2 workers. PyTorch runs with the TCP transport (as
# between machines) and with its default transports (shared memory on one
# host). Prints a table of the median steps per second and the ratios.
#
#   benchmarks/run_model_sync_benchmark.sh [rounds] [min_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
deploy/install_deps.sh
python=/usr/bin/python3  # Debian's python3-torch lives in Debian's interpreter.
"$python" -c 'import torch.distributed.rpc' 2>/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
}
BAZEL=${BAZEL:-bazel}
$BAZEL build //server:ps_server //benchmarks:model_sync_benchmark
bin=$($BAZEL info bazel-bin 2>/dev/null)

work=$(mktemp -d)
source deploy/ps_server_lib.sh
trap 'kill ${PS_PID:-} 2>/dev/null; wait 2>/dev/null || true' EXIT
start_ps_server "$bin"/server/ps_server "$work/ps" --max_total_bytes=$((8 << 30))
results=$work/results.jsonl
for round in $(seq "$rounds"); do
  for workers in 1 2; do
    echo "== round $round, $workers worker(s)" >&2
    "$bin"/benchmarks/model_sync_benchmark --server="$PS_TARGET" \
      --workers="$workers" --min_seconds="$seconds" >>"$results"
    for transport in tcp default; do
      "$python" benchmarks/torch_rpc_model_sync.py --workers="$workers" \
        --transport="$transport" --min_seconds="$seconds" 2>/dev/null >>"$results"
    done
  done
done
"$python" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def median(peer, workers):
    values = [r["steps_per_second"] for r in rows
              if r["peer"].startswith(peer) and r["workers"] == workers]
    return statistics.median(values) if values else float("nan")
mb = rows[0]["bytes"] / 1e6
print(f"Model sync, ResNet-50 shape ({rows[0]['variables']} variables, "
      f"{mb:.0f} MB), median steps/s of {len([r for r in rows if r['peer'].startswith('paramserver') and r['workers'] == 1])} rounds")
print(f"{'workers':>8} {'ours':>8} {'rpc tcp':>8} {'rpc dflt':>8} "
      f"{'ours/tcp':>9} {'ours/dflt':>10} {'ours GB/s':>10}")
for workers in (1, 2):
    ours = median("paramserver", workers)
    tcp = median("torch.distributed.rpc (tcp)", workers)
    default = median("torch.distributed.rpc (default)", workers)
    print(f"{workers:>8} {ours:8.2f} {tcp:8.2f} {default:8.2f} "
          f"{ours / tcp:9.2f} {ours / default:10.2f} "
          f"{2 * ours * mb / 1e3:10.2f}")
PY
