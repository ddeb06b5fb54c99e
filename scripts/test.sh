#!/usr/bin/env bash
# Set up everything the tests need (virtualenv, pip, npm; Chromium via apt when run as root)
# and run them all: ruff, engine and protocol tests, socket API, browser end to end.
# Extra arguments go to pytest, e.g. scripts/test.sh -k raft
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Debian packages: Chromium for the browser tests, redis-server and nginx for the cluster's.
missing=()
command -v chromium >/dev/null 2>&1 || [ -n "${PLAYWRIGHT_CHROMIUM:-}" ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null
  else
    echo "note: ${missing[*]} not found; install with apt-get (or set PLAYWRIGHT_CHROMIUM for Chromium)" >&2
  fi
fi
.venv/bin/ruff check .
exec .venv/bin/pytest "$@"
