#!/usr/bin/env bash
# Builds every fuzzer with --config=fuzz and runs each for SECONDS from its
# seed corpus and dictionary; new inputs go to a scratch directory, so the
# repository's corpus is left as it is. Prints each fuzzer's final coverage.
#   fuzz/run_all.sh OUTPUT_BASE [SECONDS] [FUZZER...]
# A finding (crash, sanitizer report, leak, timeout, out of memory) stops the
# run with the fuzzer's report, the path of the input that caused it
# (crash-*, timeout-*, oom-* in a directory that is kept) and a non-zero
# status.
set -euo pipefail
cd "$(dirname "$0")/.."
output_base=$1
seconds=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
fuzzers=("$@")
if (( ${#fuzzers[@]} == 0 )); then
  fuzzers=(store wire wal checkpoint tokens pem cli)
fi
targets=()
for name in "${fuzzers[@]}"; do targets+=("//fuzz:${name}_fuzzer"); done
# No bazel-* symlinks: they would point the checkout's bazel-<name> at this
# output base, and the next plain `bazel test //...` would then walk into it.
bazel --output_base="$output_base" build --config=fuzz --symlink_prefix=/ \
  "${targets[@]}"
bin="$(bazel --output_base="$output_base" info --config=fuzz bazel-bin)/fuzz"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
findings=$(mktemp -d)
summary=()
for name in "${fuzzers[@]}"; do
  mkdir "$scratch/$name"
  log="$scratch/$name.log"
  start=$SECONDS
  if ! "$bin/${name}_fuzzer" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -dict="fuzz/$name.dict" -print_final_stats=1 \
      -artifact_prefix="$findings/" \
      "$scratch/$name" "fuzz/corpus/$name" > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "${name}_fuzzer: FINDING (see above); input kept in $findings" >&2
    exit 1
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  summary+=("$(printf '%-18s %3ds  %s' "${name}_fuzzer" $((SECONDS - start)) "$done_line")")
done
rmdir "$findings"
printf '%s\n' "${summary[@]}"
