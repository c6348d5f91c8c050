"""Start the app: ``python -m ui.serve [streamlit options]`` is ``streamlit run app.py [options]``, on 127.0.0.1 only
unless asked otherwise, and minus one glitch.

**Loopback by default.** The app has no sign-in: anyone who can reach its port can list datasets, delete runs and
download weights. So it listens on 127.0.0.1 unless the command line names an address (``--server.address
0.0.0.0``) or the environment does (``STREAMLIT_SERVER_ADDRESS=0.0.0.0``, Streamlit's own variable; ``.streamlit/
config.toml`` says 127.0.0.1 too, for a plain ``streamlit run app.py`` started in this folder).

**The glitch.** With a ``pages/`` folder next to ``app.py``, Streamlit serves a fresh server's first script run the
old, folder-based way until some run has called ``st.navigation``. A person whose first request after a (re)start is
a page URL such as ``/train`` (a bookmark, a refreshed tab) then got Streamlit's "Page not found" dialog over the
right page: the old router knows only ``/Train``. Telling Streamlit up front that this app routes with
``st.navigation`` avoids that. ``streamlit run app.py`` still works, with the dialog on that one first request.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
LOOPBACK = "127.0.0.1"
ADDRESS_ENV = "STREAMLIT_SERVER_ADDRESS"  # Streamlit's own variable for --server.address


def with_default_address(args: list[str], environ: os._Environ | dict[str, str] = os.environ) -> list[str]:
    """``args`` plus ``--server.address 127.0.0.1`` unless they or ``$STREAMLIT_SERVER_ADDRESS`` name an address."""
    named = any(a == "--server.address" or a.startswith("--server.address=") for a in args)
    if named or environ.get(ADDRESS_ENV, "").strip():
        return list(args)
    return [*args, "--server.address", LOOPBACK]


def main(argv: list[str] | None = None) -> int:
    """Run the Streamlit CLI on ``app.py`` with ``argv`` as extra options; returns its exit code."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
    args = ["run", str(APP), *with_default_address(list(sys.argv[1:] if argv is None else argv))]
    try:
        cli.main(args, standalone_mode=False)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
