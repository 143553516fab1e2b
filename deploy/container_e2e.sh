#!/usr/bin/env bash
# End-to-end test of the container image: builds deploy/Dockerfile, starts
# the server container with its data on a volume and a port published on
# loopback, trains with two worker containers, checks that the loss fell,
# that the server's health check passes and that its variables survive a
# stop and start of the container. Cleans up its containers, network and
# volume on exit; keeps the images, so a second run reuses their layers.
#
#   bash deploy/container_e2e.sh
#
# Uses podman (or docker, if podman is absent and a Docker engine answers).
# Without one that can run a container here it prints "skipped: <reason>"
# and exits 0. With CI=true as root it installs podman, runc and debootstrap
# from Debian first. Without a debian:bookworm-slim image (no registry is
# needed) it makes one with debootstrap and imports it.
#
# Knobs: PS_E2E_IMAGE (default localhost/paramserver:e2e), PS_E2E_STEPS
# (training steps per worker, default 150).
set -euo pipefail
cd "$(dirname "$0")/.."

image="${PS_E2E_IMAGE:-localhost/paramserver:e2e}"
steps="${PS_E2E_STEPS:-150}"
base_image="docker.io/library/debian:bookworm-slim"
start_time=$SECONDS
passed=0

log() { echo "== [$((SECONDS - start_time))s] $*"; }
skip() {
  echo "container_e2e: skipped: $*"
  exit 0
}
fail() {
  echo "container_e2e: FAILED: $*" >&2
  exit 1
}
pass() {
  passed=$((passed + 1))
  echo "   ok: $*"
}

# ------------------------------------------------------------------ engine
source deploy/container_lib.sh

container_engine_setup
container_base_image "$base_image"

# ------------------------------------------------------------------- image
log "Building $image from deploy/Dockerfile"
build=(build -f deploy/Dockerfile -t "$image")
if podman_engine; then
  # HEALTHCHECK needs the docker format; the base image is local.
  build+=(--format docker --pull=never "${ULIMITS[@]}")
fi
build_log=$(mktemp)
if ! timeout 2400 "${ENGINE[@]}" "${build[@]}" . >"$build_log" 2>&1; then
  grep -v '^\[[0-9]* / [0-9]*\]' "$build_log" | tail -n 40 >&2
  rm -f "$build_log"
  fail "the image did not build"
fi
rm -f "$build_log"
pass "image built"

# ------------------------------------------------------- server and workers
run_id="ps-e2e-$$"
server="$run_id-server"
network="$run_id-net"
volume="$run_id-data"
workers=("$run_id-worker-0" "$run_id-worker-1")
cleanup() {
  local status=$?
  E rm -f -v "$server" "${workers[@]}" >/dev/null 2>&1 || true
  E volume rm -f "$volume" >/dev/null 2>&1 || true
  E network rm -f "$network" >/dev/null 2>&1 || true
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

E network create "$network" >/dev/null
E volume create "$volume" >/dev/null

# Healthy, as the engine sees it: podman runs the image's HEALTHCHECK on
# request (its periodic runs need systemd), Docker runs it by itself.
healthy() {
  if podman_engine; then
    E healthcheck run "$server" >/dev/null 2>&1
  else
    [[ "$(E inspect -f '{{.State.Health.Status}}' "$server" 2>/dev/null)" == healthy ]]
  fi
}
wait_healthy() {
  local limit=$1
  for ((i = 0; i < limit; i++)); do
    if healthy; then return 0; fi
    if [[ "$(E inspect -f '{{.State.Running}}' "$server")" != true ]]; then
      E logs "$server" 2>&1 | tail -n 20 >&2
      fail "the server container exited"
    fi
    sleep 1
  done
  E logs "$server" 2>&1 | tail -n 20 >&2
  fail "the server container did not turn healthy within ${limit}s"
}
# psctl from the host's network through the published port.
host_psctl() {
  E run --rm "${ULIMITS[@]}" --network host --no-healthcheck --entrypoint psctl "$image" \
    --server="$published" --timeout_seconds=10 "$@"
}

log "Starting the server container (data on volume $volume)"
quiet E run -d --name "$server" "${ULIMITS[@]}" --network "$network" --network-alias ps \
  -v "$volume:/var/lib/paramserver" -p 127.0.0.1::2222 "$image"
wait_healthy 60
published=$(E port "$server" 2222/tcp | head -n 1)
[[ "$published" == 127.0.0.1:* ]] || fail "unexpected published address '$published'"
pass "server healthy, published on $published"
host_psctl health >/dev/null || fail "psctl health over the published port failed"
pass "psctl health over the published port"

log "Training: two worker containers, $steps steps each"
for i in 0 1; do
  quiet E run -d --name "${workers[$i]}" "${ULIMITS[@]}" --network "$network" --no-healthcheck \
    --entrypoint wait-for-servers "$image" ps:2222 -- \
    train_image_filter --server=ps:2222 --worker="$i" --steps="$steps" --log_every=50
done
for i in 0 1; do
  code=$(timeout 900 "${ENGINE[@]}" wait "${workers[$i]}" | tail -n 1) ||
    fail "worker $i did not finish within 900s"
  output=$(E logs "${workers[$i]}" 2>&1)
  if [[ "$code" != 0 ]]; then
    echo "$output" | tail -n 40 | sed 's/^/   | /' >&2
    fail "worker $i exited with status $code (its last lines above)"
  fi
  echo "$output" | grep -E "^worker $i" | sed 's/^/   /' || true
  before=$(echo "$output" | sed -n "s/^worker $i: evaluation loss before training //p")
  after=$(echo "$output" | sed -n "s/^worker $i: evaluation loss after training //p")
  if [[ -z "$before" || -z "$after" ]]; then
    echo "$output" | tail -n 40 | sed 's/^/   | /' >&2
    fail "worker $i printed no evaluation losses (its last lines above)"
  fi
  awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b) }' ||
    fail "worker $i: the loss did not fall ($before -> $after)"
  pass "worker $i: evaluation loss $before -> $after"
done

# ------------------------------------------------------------------ restart
list_variables() { host_psctl list | sort; }
before_restart=$(list_variables)
count=$(grep -c . <<<"$before_restart" || true)
grep -q '"name":"student/conv1/weights"' <<<"$before_restart" ||
  fail "the trained variables are not on the server: $before_restart"
log "Restarting the server container ($count variables)"
quiet E stop -t 60 "$server"
quiet E start "$server"
wait_healthy 120
published=$(E port "$server" 2222/tcp | head -n 1)
after_restart=$(list_variables)
if [[ "$before_restart" != "$after_restart" ]]; then
  diff <(echo "$before_restart") <(echo "$after_restart") >&2 || true
  fail "the variables changed across the restart"
fi
pass "all $count variables and their versions survived the restart"
E logs "$server" 2>&1 | grep -E "Wrote checkpoint|Restored" | sed 's/^/   /'

log "Done in $((SECONDS - start_time))s"
echo "container_e2e: $passed passed, 0 failed"
