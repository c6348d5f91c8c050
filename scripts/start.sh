#!/usr/bin/env bash
# Install, load the built-in demo dataset, and start the workbench at http://localhost:${PORT:-8501}
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install.sh
"$PY" -m tlcore import demo --quiet >/dev/null
exec "$PY" -m ui.serve --server.port "${PORT:-8501}" "$@"  # = streamlit run app.py (see ui/serve.py)
