#!/usr/bin/env bash
# Installs everything the build and tests need, from Debian 12's packages
# only (Bazel cannot download anything here). Idempotent; needs root.
#
#   deploy/install_deps.sh              # build, tests, sanitizers, fuzzing
#   deploy/install_deps.sh --build-only # just enough to build the binaries
#                                       # (the container image's build stage)
set -euo pipefail

BUILD_PACKAGES=(
  bazel-bootstrap bazel-rules-java      # Bazel 4.2.3 and its Java rules
  g++ libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libdnnl-dev
  libmicrohttpd-dev                     # ps_server --http_port (metrics, probes)
)
TEST_PACKAGES=(
  libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev                        # //benchmarks:data_plane_benchmark (Redis peer)
  clang libclang-rt-14-dev              # sanitizers and fuzzing
  clang-format                          # deploy/check_format.sh (CI)
  python3-grpcio python3-protobuf python3-numpy python3-pytest  # client/python tests
)
# paramserver.torch, its tests and the Python examples. Installed without
# recommends: those (libtorch-dev, build-essential, ninja-build) build
# PyTorch extensions, which nothing here does.
TORCH_PACKAGES=(python3-torch)
# promtool and a Prometheus server, for the tests of ps_server's metrics
# (client/python/tests/operator_test.py), and headless Chromium, which opens
# the operator page in client/python/tests/operator_page_test.py. Without
# recommends: the node exporter Prometheus recommends is not used.
MONITORING_PACKAGES=(prometheus chromium-headless-shell)

case "${1:-}" in
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${TORCH_PACKAGES[@]}"
      "${MONITORING_PACKAGES[@]}") ;;
  --build-only) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "Installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
no_recommends=()
others=()
for package in "${missing[@]}"; do
  if [[ " ${TORCH_PACKAGES[*]} ${MONITORING_PACKAGES[*]} " == *" $package "* ]]; then
    no_recommends+=("$package")
  else
    others+=("$package")
  fi
done
if ((${#others[@]} > 0)); then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${others[@]}" >/dev/null
fi
if ((${#no_recommends[@]} > 0)); then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${no_recommends[@]}" >/dev/null
fi
