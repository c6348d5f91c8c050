#!/usr/bin/env bash
# Install everything the tests need (Python packages and Chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install.sh --browser
exec "$PY" -m pytest "$@"
