"""Keep every page behind ``app.py``'s router.

When a server's first request opens a page's URL directly (a bookmark, or a refresh right after a restart),
Streamlit runs that ``pages/`` script on its own, in its older directory-based multipage mode, until some run
calls ``st.navigation``: no sidebar, no session set-up. Each page calls :func:`require_router` first; in that
mode it switches Streamlit to ``st.navigation`` routing and re-runs, so ``app.py`` runs and opens the same page.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def require_router() -> None:
    """Re-run through ``app.py`` if Streamlit started this page script without it."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        st.rerun()
