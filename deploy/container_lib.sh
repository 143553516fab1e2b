# Sourced by the scripts that run containers (deploy/container_e2e.sh,
# deploy/fresh_machine_test.sh): finds a container engine that can run a
# container here and makes sure the Debian base image exists.
#
#   container_engine_setup        # sets ENGINE (an array) and ULIMITS
#   container_base_image IMAGE    # makes IMAGE with debootstrap if missing
#   E ARGS...                     # runs the engine
#
# With CI=true as root, podman, runc and debootstrap are installed from
# Debian first. Where no engine can run a container, calls the caller's
# `skip REASON` (which should exit 0); on a hard error, `fail REASON`.
# The caller defines log, skip and fail.

container_as_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a command, showing its output only if it fails (podman without
# systemd complains on every start that it cannot schedule health checks).
quiet() {
  local output
  if ! output=$("$@" 2>&1); then
    echo "$output" >&2
    return 1
  fi
}

E() { "${ENGINE[@]}" "$@"; }
podman_engine() { [[ "${ENGINE[0]}" == podman ]]; }

container_engine_setup() {
  if ! command -v podman >/dev/null && [[ "${CI:-}" == "true" ]] && container_as_root; then
    log "Installing podman, runc and debootstrap from Debian"
    quiet apt-get update -qq
    DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq podman runc debootstrap
  fi
  ENGINE=()
  if command -v podman >/dev/null; then
    ENGINE=(podman)
    # Settings this kind of host needs (podman's default runtime crun fails
    # on hybrid cgroups; raising resource limits inside a container is
    # refused), written only where the host has no configuration of its own.
    local conf=/etc/containers/containers.conf
    if container_as_root && [[ ! -e "$conf" ]]; then
      log "Writing $conf (runtime runc, explicit ulimits)"
      mkdir -p /etc/containers
      cat >"$conf" <<'EOF'
# Written by the parameter server's deploy/container_lib.sh because none was
# present: crun cannot run containers on hosts with hybrid cgroups, and
# containers may not raise their resource limits there.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
    fi
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    ENGINE=(docker)
  else
    skip "neither podman nor a running Docker engine is available (with CI=true as root, podman is installed from Debian)"
  fi
  # Explicit, low ulimits: a container may lower its limits but not raise them.
  ULIMITS=()
  if podman_engine; then
    ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
  fi
}

# Makes the Debian 12 base image IMAGE if the engine lacks it: with
# debootstrap under podman (no registry needed), by pulling under Docker.
# Then checks that the engine can run a container from it at all, switching
# podman to runc where its default runtime cannot.
container_base_image() {
  local base_image=$1
  if ! E image inspect "$base_image" >/dev/null 2>&1; then
    if podman_engine; then
      command -v debootstrap >/dev/null || skip "no $base_image image and no debootstrap to make one"
      container_as_root || skip "no $base_image image, and making one with debootstrap needs root"
      log "Making $base_image with debootstrap (no registry needed)"
      local rootfs
      rootfs=$(mktemp -d)
      if ! timeout 900 debootstrap --variant=minbase bookworm "$rootfs" >"$rootfs.log" 2>&1; then
        tail -n 20 "$rootfs.log" >&2
        rm -rf "$rootfs" "$rootfs.log"
        fail "debootstrap failed"
      fi
      if ! tar -C "$rootfs" -c . | E import - "$base_image" >"$rootfs.log" 2>&1; then
        tail -n 20 "$rootfs.log" >&2
        rm -rf "$rootfs" "$rootfs.log"
        fail "podman import of the debootstrap tree failed"
      fi
      rm -rf "$rootfs" "$rootfs.log"
    else
      log "Pulling $base_image"
      E pull "$base_image" >/dev/null || skip "no $base_image image and it cannot be pulled"
    fi
  fi
  local probe
  if ! probe=$(E run --rm "${ULIMITS[@]}" "$base_image" true 2>&1); then
    if podman_engine && command -v runc >/dev/null &&
      podman --runtime runc run --rm "${ULIMITS[@]}" "$base_image" true >/dev/null 2>&1; then
      ENGINE=(podman --runtime runc)
    else
      skip "${ENGINE[0]} cannot run a container here: $(echo "$probe" | tail -n 1)"
    fi
  fi
  log "Engine: ${ENGINE[*]} ($(E --version | head -n 1))"
}
