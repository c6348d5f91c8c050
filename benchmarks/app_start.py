"""Cold start of the app in a fresh process: seconds from interpreter start to the first rendered page.

Run by ``benchmarks/run.py`` as ``python benchmarks/app_start.py`` with ``TLCORE_WORKSPACE`` set to a scratch
workspace. Uses Streamlit's ``AppTest`` (the script run, without a browser or web server). Prints one JSON
object: seconds, whether the first page pulled torch in, and any exception the page raised.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run the app once and print the JSON line."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    seconds = time.perf_counter() - started
    errors = [e.value for e in at.exception] if at.exception else []
    print(json.dumps({"seconds": seconds, "torch_loaded": "torch" in sys.modules, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
