"""The transfer-learning workbench: Streamlit entry point and router. Run with ``python -m ui.serve`` (which is
``streamlit run app.py`` without a "Page not found" glitch on a fresh server; see :mod:`ui.serve`).

Every page is a thin skin over :mod:`tlcore`; shared UI glue lives in :mod:`ui`. Pages owned by other issues
(Explain, Cross-validation) join the navigation as soon as their files exist.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from tlcore.runtime import setup
from ui import sidebar, state

setup()  # first: malloc and thread settings before anything imports torch (idempotent across reruns)

ROOT = Path(__file__).resolve().parent
# A local file: with a ":material/...:" page icon, browsers fetch the favicon from fonts.gstatic.com (the app must
# make no outside requests). The icons in the navigation come from the font Streamlit serves itself.
FAVICON = ROOT / "ui" / "assets" / "favicon.svg"

# (script, title, icon, default page)
PAGES = (
    ("pages/1_Home.py", "Home", ":material/home:", True),
    ("pages/2_Data.py", "Data", ":material/photo_library:", False),
    ("pages/3_Train.py", "Train", ":material/model_training:", False),
    ("pages/4_Predict.py", "Predict", ":material/online_prediction:", False),
    ("pages/5_Explain.py", "Explain", ":material/visibility:", False),
    ("pages/6_Runs.py", "Runs", ":material/table_chart:", False),
    ("pages/7_Cross_validation.py", "Cross-validation", ":material/stacked_bar_chart:", False),
)


def _url_path(title: str) -> str:
    """Lower-case page URLs ("/train"). They must differ from the names Streamlit derives from the pages/ files
    ("/Train"): when a fresh server's first request opens a page URL, Streamlit's older folder-based routing
    then finds no page of that name and runs this script, whose st.navigation opens the page with the sidebar."""
    return title.lower().replace(" ", "-")


def _pages() -> list[st.Page]:
    return [st.Page(script, title=title, icon=icon, default=default, url_path=None if default else _url_path(title))
            for script, title, icon, default in PAGES if (ROOT / script).exists()]


st.set_page_config(page_title="Transfer-learning workbench", page_icon=FAVICON, layout="wide")
state.init_session()
page = st.navigation(_pages())
sidebar.render()
page.run()
