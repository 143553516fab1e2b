#!/bin/bash
# Compares the image filter's forward pass (two fused 5x5x32x32 conv + bias +
# ReLU, SAME) and its training step (forward, mean squared error, gradients
# of all four parameters) with PyTorch eager (autograd for the step) on the
# same machine, 1 thread and all cores.
#
#   kernels/compare_with_pytorch.sh [rounds] [forward|train|all]
#                                   (default 3 rounds, all)
#
# The machine is shared, so the two are run alternately, case by case, for
# several rounds, and each case keeps its best GFLOP/s (best of 3 timed loops
# of >= 1 s on each side, over all rounds).
# Needs Debian's python3-torch (apt-get install -y python3-torch).
set -euo pipefail

rounds="${1:-3}"
modes="${2:-all}"
[[ "${modes}" == all ]] && modes="forward train"
cd "$(dirname "$0")/.."
bazel=(bazel --output_base=/root/.cache/bazel_ob_kernels)
python=/usr/bin/python3
out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT

"${bazel[@]}" build --symlink_prefix=/ //kernels:image_filter_benchmark \
  >/dev/null 2>&1 || "${bazel[@]}" build --symlink_prefix=/ \
  //kernels:image_filter_benchmark
# PyTorch eager allocates every output (several MB here); with glibc's
# default thresholds those come from fresh mmap()s and page-fault on each
# call. It is therefore run twice: as users get it, and with malloc tuned
# to keep freed memory (PyTorch at its best). We allocate nothing per call.
no_page_faults="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"

# Alternate ours and PyTorch case by case, so both see similar load.
cores="$(nproc)"
declare -A benchmark=([forward]=ImageFilterForward [train]=ImageFilterTrainingStep)
for round in $(seq "${rounds}"); do
  for mode in ${modes}; do
  for case in 1x224 8x64; do
    batch="${case%x*}"
    hw="${case#*x}"
    for threads in $(printf '%s\n' 1 "${cores}" | sort -un); do
      tag="${mode}_${round}_${case}_${threads}"
      echo "round ${round}/${rounds}: ${mode} ${case} threads=${threads}" >&2
      "${bazel[@]}" run --symlink_prefix=/ //kernels:image_filter_benchmark \
        -- --benchmark_format=json --benchmark_min_time=1 \
        --benchmark_repetitions=3 \
        --benchmark_filter="${benchmark[${mode}]}/batch:${batch}/hw:${hw}/threads:${threads}/" \
        >"${out}/ours_${tag}.json" 2>/dev/null
      "${python}" kernels/compare_pytorch.py --min_time 1 --repeats 3 \
        --mode "${mode}" --case "${case}" --threads "${threads}" \
        >"${out}/torch_${tag}.jsonl"
      GLIBC_TUNABLES="${no_page_faults}" "${python}" kernels/compare_pytorch.py \
        --min_time 1 --repeats 3 --mode "${mode}" --case "${case}" \
        --threads "${threads}" >"${out}/torchnopf_${tag}.jsonl"
    done
  done
  done
done

"${python}" - "${out}" <<'PY'
import glob, json, re, sys

out = sys.argv[1]
ours, peak = {}, 0.0
for path in glob.glob(out + "/ours_*.json"):
    report = json.load(open(path))
    peak = max(peak, float(report["context"]["fma_peak_gflops"]))
    for b in report["benchmarks"]:
        m = re.match(r"BM_ImageFilter(Forward|TrainingStep)/batch:(\d+)/hw:(\d+)"
                     r"/threads:(\d+)", b["name"])
        if m and b.get("run_type") == "iteration":
            mode = "forward" if m.group(1) == "Forward" else "train"
            key = (mode,) + tuple(int(g) for g in m.groups()[1:])
            ours[key] = max(ours.get(key, 0.0), b["GFLOP/s"])


def load_torch(pattern):
    best, fmt = {}, {}
    for path in glob.glob(out + pattern):
        for line in open(path):
            r = json.loads(line)
            key = (r.get("mode", "forward"), r["batch"], r["hw"], r["threads"])
            if r["gflops"] > best.get(key, 0.0):
                best[key], fmt[key] = r["gflops"], r["format"]
    return best, fmt


torch, torch_fmt = load_torch("/torch_*.jsonl")
tuned, tuned_fmt = load_torch("/torchnopf_*.jsonl")
nan = float("nan")
print(f"single-core fp32 FMA peak (measured, best): {peak:.1f} GFLOP/s")
print("PyTorch: eager, best of channels_last/NCHW; 'default' = glibc malloc "
      "as shipped, 'tuned' = malloc keeps freed memory (no page faults)")
print()
row = ("| {:<7} | {:<13} | {:>3} | {:>14} | {:>7} | {:>22} | {:>6} |"
       " {:>22} | {:>6} |")
print(row.format("step", "input (NHWC)", "thr", "ours", "% peak",
                 "PyTorch default", "ratio", "PyTorch tuned", "ratio"))
print(row.format(*["-" * n for n in (7, 13, 3, 14, 7, 22, 6, 22, 6)]))
for key in sorted(ours, key=lambda k: (k[0], -k[2], k[3])):
    mode, batch, hw, threads = key
    convolutions = 5 if mode == "train" else 2
    ms = convolutions * 2.0 * batch * hw * hw * 25 * 32 * 32 / ours[key] * 1e-6
    t, u = torch.get(key, nan), tuned.get(key, nan)
    fraction = ours[key] / (threads * peak) if peak else nan
    print(row.format(mode, f"{batch}x{hw}x{hw}x32", threads,
                     f"{ours[key]:.1f} {ms:.1f}ms", f"{100 * fraction:.1f}%",
                     f"{t:.1f} ({torch_fmt.get(key, '?')})",
                     f"{ours[key] / t:.2f}x",
                     f"{u:.1f} ({tuned_fmt.get(key, '?')})",
                     f"{ours[key] / u:.2f}x"))
print()
print("GFLOP/s (and ms per call); FLOPs = 2*N*OH*OW*KH*KW*IC*OC per"
      " convolution, 2 convolutions per forward pass, 5 per training step"
      " (PyTorch computes the same 5: no input gradient);"
      " % peak = ours / (threads x single-core peak).")
PY
