#!/usr/bin/env bash
# Runs the whole test suite: unit tests beside the code and the end-to-end
# tests in tests/ that start the real server binary. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
bazel test //... "$@"
