#!/usr/bin/env bash
# Generates the Python message and stub modules of proto/parameter_server.proto
# into OUT_DIR (default: client/python/paramserver_pb, beside the package), as
# the package paramserver_pb. Needs protoc and grpc_python_plugin (Debian's
# protobuf-compiler and protobuf-compiler-grpc). Nothing generated is
# committed; Bazel runs this for the tests (client/python:paramserver_pb).
#
#   bash client/python/generate_proto.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-"$ROOT/client/python/paramserver_pb"}
PROTOC=${PROTOC:-protoc}
PLUGIN=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || echo /usr/bin/grpc_python_plugin)}
mkdir -p "$OUT"
"$PROTOC" -I"$ROOT/proto" --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" "$ROOT/proto/parameter_server.proto"
# The stubs import the messages as a top-level module; inside the package
# they are a sibling.
sed -i 's/^import parameter_server_pb2 as/from . import parameter_server_pb2 as/' \
  "$OUT/parameter_server_pb2_grpc.py"
echo '"""Generated from proto/parameter_server.proto; do not edit."""' > "$OUT/__init__.py"
