#!/usr/bin/env bash
# The Python client's pytest suite against the real ps_server, from Bazel
# (client/python:python_client_test) or by hand after generate_proto.sh and
# a build of //server:ps_server:
#
#   bash client/python/run_tests.sh [PYTEST_ARGS...]
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  cd "$TEST_SRCDIR/$TEST_WORKSPACE"
  export PS_SERVER="$PWD/server/ps_server" PSCTL="$PWD/client/psctl"
  export TRAIN_IMAGE_FILTER="$PWD/examples/train_image_filter"
else
  cd "$(dirname "$0")/../.."
fi
export PYTHONPATH="$PWD/client/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider client/python/tests "$@"
