#!/usr/bin/env bash
# Set up everything the tests need (virtualenv, pip, npm; Chromium via apt when run as root)
# and run them all: ruff, engine and protocol tests, socket API, browser end to end.
# Extra arguments go to pytest, e.g. scripts/test.sh -k raft
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
npm ci --no-audit --no-fund --loglevel=error
if ! command -v chromium >/dev/null 2>&1 && [ -z "${PLAYWRIGHT_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
  else
    echo "note: Chromium not found; install it (apt-get install chromium) or set PLAYWRIGHT_CHROMIUM" >&2
  fi
fi
.venv/bin/ruff check .
exec .venv/bin/pytest "$@"
