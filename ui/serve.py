"""Start the app: ``python -m ui.serve [streamlit options]`` is ``streamlit run app.py [options]``, minus one glitch.

With a ``pages/`` folder next to ``app.py``, Streamlit serves a fresh server's first script run the old, folder-based
way until some run has called ``st.navigation``. A person whose first request after a (re)start is a page URL such as
``/train`` (a bookmark, a refreshed tab) then got Streamlit's "Page not found" dialog over the right page: the old
router knows only ``/Train``. Telling Streamlit up front that this app routes with ``st.navigation`` avoids that.
``streamlit run app.py`` still works, with the dialog on that one first request.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> int:
    """Run the Streamlit CLI on ``app.py`` with ``argv`` as extra options; returns its exit code."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
    args = ["run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    try:
        cli.main(args, standalone_mode=False)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
