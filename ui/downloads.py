"""CSV downloads on the pages: every table a person can download goes through :func:`tlcore.safe_text.csv_text`.

A class, file or dataset name such as ``=HYPERLINK(...)`` then opens in a spreadsheet as text, not as a formula.
Streamlit's own table toolbar would export the cells raw (in the browser, where no server-side check reaches), so it
is switched off (``client.disableDataExport`` in ``.streamlit/config.toml``) and each table people want as a file
gets a button from here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from tlcore.safe_text import csv_text


def csv_bytes(table: Any) -> bytes:
    """A table (a pandas DataFrame or row dicts) as UTF-8 CSV, every cell safe to open in a spreadsheet."""
    return csv_text(table).encode("utf-8")


def csv_button(label: str, table: Any, file_name: str, key: str, container: Any = None) -> None:
    """A download button for ``table`` as a safe CSV file (in ``container``, e.g. a column; default: the page)."""
    (container or st).download_button(label, csv_bytes(table), file_name, "text/csv", key=key, on_click="ignore",
                                      icon=":material/download:")
