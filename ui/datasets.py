"""Dataset actions and views shared by the Home and Data pages: load the demo, import an upload, show a report."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

import pandas as pd
import streamlit as st

from tlcore.errors import TlcoreError
from ui import charts, downloads, state
from ui.jobs import InlineProgress
from ui.text import md_escape

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from tlcore.data import Dataset, ImportReport

log = logging.getLogger(__name__)


def load_demo() -> "Dataset | None":
    """Import the built-in digits dataset (instant if the workspace has it), make it current; None on error."""
    from tlcore.data import import_demo

    progress = InlineProgress("Preparing the demo dataset…")
    try:
        dataset, _ = import_demo(state.workspace(), on_event=progress)
    except (TlcoreError, OSError) as e:
        log.exception("demo import failed")
        st.error(f"The demo dataset could not be prepared: {md_escape(str(e))}")
        return None
    finally:
        progress.done()
    state.set_current_dataset(dataset.id)
    return dataset


def import_upload(files: Sequence["UploadedFile"], name: str) -> "Dataset | None":
    """Import an upload (zip of class folders, or images plus a CSV), make it current; None on error."""
    from ui.uploads import import_upload as spool_and_import
    from ui.uploads import release

    progress = InlineProgress("Importing…")
    try:
        dataset, _ = spool_and_import(state.workspace(), files, name=name.strip() or None, on_event=progress)
    except (TlcoreError, OSError) as e:
        log.warning("upload import failed: %s", e)
        st.error(f"Nothing was imported: {md_escape(str(e))}")
        return None
    finally:
        progress.done()
    state.set_current_dataset(dataset.id)
    release(files)  # the bytes are in the workspace now: free the server's copy at once, not when the session ends
    st.session_state[state.UPLOAD_GENERATION] = st.session_state.get(state.UPLOAD_GENERATION, 0) + 1
    return dataset


def load_report(dataset_id: str) -> "ImportReport | None":
    """The stored import report of a dataset, or None if it has none."""
    from tlcore.data import load_report as read_report

    try:
        return read_report(state.workspace(), dataset_id)
    except TlcoreError as e:
        log.warning("no report for %s: %s", dataset_id, e)
        return None


def show_report(dataset: "Dataset", report: "ImportReport | None") -> None:
    """The import report: counts, warnings, and every skipped file with its reason (names as plain text)."""
    c1, c2, c3 = st.columns(3)
    c1.metric("Images imported", f"{len(dataset.records):,}")
    c2.metric("Classes", len(dataset.classes))
    c3.metric("Files skipped", len(report.skipped) if report else 0)
    if report is None:
        st.caption("No import report was stored for this dataset.")
        return
    if report.source:
        st.text(f"Imported from: {report.source}")
    for warning in report.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    if report.skipped:
        junk = f" ({report.junk} of them system junk such as __MACOSX or .DS_Store)" if report.junk else ""
        with st.expander(f"Skipped files: {len(report.skipped):,}{junk}", expanded=len(report.skipped) <= 20):
            frame = pd.DataFrame([{"file": s.name, "reason": s.reason} for s in report.skipped])
            st.dataframe(frame, hide_index=True, width="stretch")
            downloads.csv_button("Skipped files (CSV)", frame, f"skipped_{dataset.id}.csv",
                                 key=f"skipped-csv-{dataset.id}")


def show_class_counts(dataset: "Dataset") -> None:
    """Bar chart of images per class, with the imbalance warning when there is one."""
    from tlcore.data import imbalance_warning

    st.plotly_chart(charts.class_counts_figure(dataset.class_counts()), width="stretch")
    warning = imbalance_warning(dataset)
    if warning:
        st.warning(md_escape(warning) + " — consider *class-weighted loss* on the Train page.",
                   icon=":material/balance:")
