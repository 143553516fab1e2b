#!/usr/bin/env bash
# Checks that every C++ source and header in the repository is formatted as
# .clang-format says (Google style), with Debian's clang-format. Prints the
# offending lines and fails if one is not. To reformat:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || deploy/install_deps.sh
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z '*.cc' '*.h' | xargs -0 clang-format --dry-run --Werror
else
  find . -path ./bazel-\* -prune -o \( -name '*.cc' -o -name '*.h' \) -print0 \
    | xargs -0 clang-format --dry-run --Werror
fi
echo "Formatting: every C++ file follows .clang-format."
