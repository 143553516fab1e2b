#!/bin/sh
# Waits until every parameter server in a comma-separated list reports
# SERVING on gRPC's health service, then runs the command. The image installs
# it as /usr/local/bin/wait-for-servers, for workers started beside their
# servers (compose, a Kubernetes Job) that must not race them:
#
#   wait-for-servers ps-0.ps:2222,ps-1.ps:2222 -- train_image_filter --worker=0 ...
#
# PS_WAIT_SECONDS (default 300) bounds the wait; PS_HEALTHCHECK_FLAGS adds
# psctl flags (e.g. --tls_ca=...) for servers that use TLS. POSIX sh: the
# runtime image has no bash.
set -eu

if [ $# -lt 3 ] || [ "$2" != "--" ]; then
  echo "usage: wait-for-servers HOST:PORT[,HOST:PORT...] -- COMMAND [ARGS...]" >&2
  exit 2
fi
servers=$1
shift 2
limit=${PS_WAIT_SECONDS:-300}
start=$(date +%s)

old_ifs=$IFS
IFS=,
set -f
for server in $servers; do
  IFS=$old_ifs
  # Unquoted on purpose: PS_HEALTHCHECK_FLAGS may hold several flags.
  # shellcheck disable=SC2086
  until psctl --server="$server" --timeout_seconds=2 ${PS_HEALTHCHECK_FLAGS:-} \
      health >/dev/null 2>&1; do
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
      echo "wait-for-servers: $server not SERVING after ${limit}s:" >&2
      # shellcheck disable=SC2086
      psctl --server="$server" --timeout_seconds=2 ${PS_HEALTHCHECK_FLAGS:-} health >&2 || true
      exit 1
    fi
    sleep 1
  done
  echo "wait-for-servers: $server is SERVING" >&2
  IFS=,
done
IFS=$old_ifs
set +f
exec "$@"
