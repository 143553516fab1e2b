#!/bin/sh
echo "bazel coverage is not supported offline; use gcov/lcov" >&2
exit 1
