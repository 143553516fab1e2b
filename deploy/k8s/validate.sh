#!/usr/bin/env bash
# Validates the Kubernetes manifests here against Kubernetes' API schema,
# offline: types, required fields, enums and formats, and unknown or
# misspelled fields (validate/validate.mjs says how). Installs Node.js from
# Debian if it is missing and the pinned npm packages (validate/package.json)
# into a cache directory outside the repository. Exit status 1 on any error.
#
#   deploy/k8s/validate.sh              # every deploy/k8s/*.yaml
#   deploy/k8s/validate.sh FILE.yaml... # just these
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  echo "Installing: nodejs npm" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

cache="${PS_K8S_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paramserver-k8s-validate}"
mkdir -p "$cache"
if [[ ! -d "$cache/node_modules" ]] || ! cmp -s "$here/validate/package.json" "$cache/package.json"; then
  cp "$here/validate/package.json" "$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2)
fi
cp "$here/validate/validate.mjs" "$cache/validate.mjs"

if (($# == 0)); then
  set -- "$here"/*.yaml
fi
node "$cache/validate.mjs" "$@"
