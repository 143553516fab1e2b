#!/usr/bin/env bash
# Installs everything the build and tests need, from Debian 12's packages
# only (Bazel cannot download anything here). Idempotent; needs root.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java      # Bazel 4.2.3 and its Java rules
  g++ libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libdnnl-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev              # sanitizers and fuzzing
)

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
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
