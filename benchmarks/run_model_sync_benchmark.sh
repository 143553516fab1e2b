#!/usr/bin/env bash
# Model sync, ours against PyTorch's parameter-server pattern over
# torch.distributed.rpc, alternating in one run: a ResNet-50-shaped model
# (161 variables, 102 MB) pulled whole and pushed whole (SGD on the server)
# every step, with 1 and 2 workers. Ours pulls with PullInto (into buffers the
# worker reuses) and, in a row of its own, with Pull (fresh strings). PyTorch
# runs with the TCP transport (as between machines), the same with glibc
# keeping freed memory for reuse as ps_server does (without it every received
# tensor faults fresh pages in, and PyTorch's figures swing by 10x from run to
# run), and with its default transports (shared memory on one host). Then one
# 64 MB variable pulled and
# pushed (SGD) alone, against plain loopback TCP moving 64 MB messages
# between two processes in the same run. Prints medians and ratios.
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
$BAZEL build //server:ps_server //benchmarks:model_sync_benchmark \
  //benchmarks:loopback_tcp_benchmark //benchmarks:optimizer_benchmark
bin=$($BAZEL info bazel-bin 2>/dev/null)

work=$(mktemp -d)
source deploy/ps_server_lib.sh
trap 'kill ${PS_PID:-} 2>/dev/null; wait 2>/dev/null || true' EXIT
start_ps_server "$bin"/server/ps_server "$work/ps" --max_total_bytes=$((8 << 30))
results=$work/results.jsonl
sync="$bin/benchmarks/model_sync_benchmark --server=$PS_TARGET --min_seconds=$seconds"
for round in $(seq "$rounds"); do
  for workers in 1 2; do
    echo "== round $round, $workers worker(s)" >&2
    $sync --workers="$workers" >>"$results"
    for peer in "tcp default" "tcp tuned" "default default"; do
      set -- $peer
      "$python" benchmarks/torch_rpc_model_sync.py --workers="$workers" \
        --transport="$1" --malloc="$2" --min_seconds="$seconds" \
        2>/dev/null >>"$results"
    done
    $sync --workers="$workers" --pull=strings >>"$results"
  done
  echo "== round $round, 64 MB alone" >&2
  for mode in pull push; do
    $sync --model=single64mb --mode="$mode" >>"$results"
  done
  for write in 131072 1048576; do
    "$bin"/benchmarks/loopback_tcp_benchmark --write_bytes="$write" \
      --min_seconds="$seconds" >>"$results"
  done
done
"$bin"/benchmarks/optimizer_benchmark >"$work/optimizer.jsonl"
"$python" - "$results" "$work/optimizer.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def median(peer, **match):
    values = [r.get("gb_per_second" if "mode" in match or "write_bytes" in match
                    else "steps_per_second")
              for r in rows if r["peer"].startswith(peer)
              and all(r.get(k) == v for k, v in match.items())]
    return statistics.median(values) if values else float("nan")
ours_rows = [r for r in rows if r["peer"].startswith("paramserver")
             and r.get("model") == "resnet50"]
mb = ours_rows[0]["bytes"] / 1e6
rounds = len([r for r in ours_rows if r["workers"] == 1 and "PullInto" in r["peer"]])
print(f"Model sync, ResNet-50 shape ({ours_rows[0]['variables']} variables, "
      f"{mb:.0f} MB), median steps/s of {rounds} rounds")
print("(rpc tcp+: the TCP transport with glibc keeping freed memory, as "
      "ps_server does)")
print(f"{'workers':>8} {'ours':>8} {'ours Pull':>10} {'rpc tcp':>8} {'rpc tcp+':>9} "
      f"{'rpc dflt':>8} {'ours/tcp':>9} {'ours/tcp+':>10} {'ours/dflt':>10} "
      f"{'ours GB/s':>10}")
for workers in (1, 2):
    ours = median("paramserver (C++ client, one PullInto", workers=workers, model="resnet50")
    strings = median("paramserver (C++ client, one Pull and", workers=workers, model="resnet50")
    tcp = median("torch.distributed.rpc (tcp)", workers=workers)
    tuned = median("torch.distributed.rpc (tcp, malloc tuned)", workers=workers)
    default = median("torch.distributed.rpc (default)", workers=workers)
    print(f"{workers:>8} {ours:8.2f} {strings:10.2f} {tcp:8.2f} {tuned:9.2f} "
          f"{default:8.2f} {ours / tcp:9.2f} {ours / tuned:10.2f} "
          f"{ours / default:10.2f} {2 * ours * mb / 1e3:10.2f}")
tcp_1m = median("loopback TCP", write_bytes=1048576)
tcp_128k = median("loopback TCP", write_bytes=131072)
print()
print(f"One 64 MB variable (median GB/s); loopback TCP, plain sockets, 64 MB "
      f"messages: {tcp_1m:.2f} GB/s in 1 MB writes, {tcp_128k:.2f} in 128 KB")
print(f"{'case':>16} {'GB/s':>8} {'of TCP 1 MB':>12} {'of TCP 128 KB':>14}")
for mode, name in (("pull", "pull (PullInto)"), ("push", "push (SGD)")):
    ours = median("paramserver", mode=mode, model="single64mb")
    print(f"{name:>16} {ours:8.2f} {ours / tcp_1m:12.2f} {ours / tcp_128k:14.2f}")
print()
print("The server's optimizer step alone on a 64 MB variable (GB/s of "
      "gradient):")
for line in open(sys.argv[2]):
    r = json.loads(line)
    print(f"{r['optimizer']:>16} {r['gb_per_second']:8.2f}  ({r['threads']} threads)")
PY
