#!/usr/bin/env bash
# Set up (virtualenv, pip, npm) and run the playground on http://127.0.0.1:5000
# Extra arguments go to app.py, e.g. scripts/play.sh --port 8000 --async-mode threading
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
exec .venv/bin/python app.py "$@"
