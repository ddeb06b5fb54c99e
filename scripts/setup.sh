#!/usr/bin/env bash
# What play.sh, test.sh and cluster.sh share: a virtualenv with the pip requirements, and the
# page's JavaScript from npm.  scripts/setup.sh runtime|dev
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-runtime}" in
  runtime) req=requirements.txt ;;
  dev) req=requirements-dev.txt ;;
  *) echo "usage: scripts/setup.sh runtime|dev" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
npm ci --no-audit --no-fund --loglevel=error
