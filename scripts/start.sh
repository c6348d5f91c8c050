#!/usr/bin/env bash
# Install, load the built-in demo dataset, and start the workbench at http://localhost:${PORT:-8501}
# It listens on 127.0.0.1 only (the app has no sign-in). To open it to other machines, on a network you trust:
#   scripts/start.sh --server.address 0.0.0.0      or      STREAMLIT_SERVER_ADDRESS=0.0.0.0 scripts/start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install.sh
"$PY" -m tlcore import demo --quiet >/dev/null
exec "$PY" -m ui.serve --server.port "${PORT:-8501}" "$@"  # = streamlit run app.py (see ui/serve.py)
