#!/usr/bin/env bash
# Proves the README's two commands on a bare Debian 12 machine: copies a
# clean checkout (git archive of HEAD, so nothing uncommitted and nothing
# built here) into a fresh container made from a minimal Debian 12 image
# with nothing preinstalled, and runs there, in order and exactly as the
# README's "Two commands" section writes them, each command of that section.
# Fails if either fails; prints how long each took.
#
#   bash deploy/fresh_machine_test.sh
#
# The container reaches Debian's package archive, which the commands need
# (they install their own packages). Like deploy/container_e2e.sh it uses
# podman (or Docker), makes the base image with debootstrap when there is
# none, and prints "skipped: <reason>" and exits 0 where no container can
# run; with CI=true as root it installs podman first, and a skip is a failure.
#
# Knobs: PS_FRESH_REF (the commit to test, default HEAD), PS_FRESH_KEEP=1
# keeps the container after a failure for a look inside (podman start -ai).
set -euo pipefail
cd "$(dirname "$0")/.."

ref="${PS_FRESH_REF:-HEAD}"
base_image="docker.io/library/debian:bookworm-slim"
start_time=$SECONDS

log() { echo "== [$((SECONDS - start_time))s] $*"; }
# In CI a skip would hide exactly what this test is for: there it fails.
skip() {
  [[ "${CI:-}" != "true" ]] || fail "cannot run under CI: $*"
  echo "fresh_machine_test: skipped: $*"
  exit 0
}
fail() {
  echo "fresh_machine_test: FAILED: $*" >&2
  exit 1
}

# The commands, read from the README so that what is tested is what it says.
readme_commands() {
  git show "$ref:README.md" |
    awk '/^## /{in_section = ($0 == "## Two commands")} in_section' |
    sed -n 's/^    \(bash deploy\/[^#]*[^# ]\) *\(#.*\)\{0,1\}$/\1/p'
}
mapfile -t commands < <(readme_commands)
((${#commands[@]} == 2)) ||
  fail "expected two commands in the README's 'Two commands' section, found ${#commands[@]}: ${commands[*]:-none}"

source deploy/container_lib.sh
container_engine_setup
container_base_image "$base_image"

archive=$(mktemp --suffix=.tar)
output=$(mktemp)
name="ps-fresh-$$"
cleanup() {
  local status=$?
  rm -f "$archive" "$output"
  if [[ $status -ne 0 && "${PS_FRESH_KEEP:-}" == 1 ]]; then
    echo "kept container $name" >&2
  else
    E rm -f "$name" >/dev/null 2>&1 || true
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM
git archive --format=tar --prefix=paramserver/ "$ref" >"$archive"
log "Testing $(git rev-parse --short "$ref") in a fresh $base_image container"

# The container unpacks the checkout, then runs each command in a login
# shell and reports its duration. Nothing is assumed beyond what
# debootstrap's minimal variant holds.
script='
set -u
tar -C /root -xf /paramserver.tar
cd /root/paramserver
for command in "$@"; do
  echo "== fresh machine: $command"
  start=$(date +%s)
  if bash -lc "$command"; then
    echo "== fresh machine: ok in $(( $(date +%s) - start ))s: $command"
  else
    code=$?
    echo "== fresh machine: FAILED (exit $code) after $(( $(date +%s) - start ))s: $command"
    exit 1
  fi
done
'
# More open files than container_lib's default: Bazel and the end-to-end
# tests (many servers and clients at once) need them.
run_limits=(--ulimit nofile=8192:8192 --ulimit nproc=1024:1024)
[[ ${#ULIMITS[@]} -gt 0 ]] || run_limits=()
E run --name "$name" "${run_limits[@]}" -v "$archive:/paramserver.tar:ro" \
  "$base_image" bash -c "$script" fresh "${commands[@]}" 2>&1 |
  tee "$output" |
  grep --line-buffered -E '^== fresh machine|^(//|Executed|INFO: Build completed|FAIL|ERROR)|^worker [0-9]+: evaluation' ||
  true
code=$(E inspect -f '{{.State.ExitCode}}' "$name")
if [[ "$code" != 0 ]]; then
  echo "--- the last 60 lines of the container's output:" >&2
  tail -n 60 "$output" >&2
  fail "a README command failed on the fresh machine (exit $code)"
fi
log "Both README commands passed on a fresh machine"
echo "fresh_machine_test: passed"
