"""Saved runs as loaded models, cached per process and shared by all sessions (never mutate one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui import state

if TYPE_CHECKING:
    from tlcore.runs.store import LoadedRun


@st.cache_resource(show_spinner=False, max_entries=4)
def _loaded(root: str, run_id: str) -> "LoadedRun":
    from tlcore.runs.store import load_run
    from tlcore.workspace import Workspace

    return load_run(Workspace(root), run_id)


def loaded_run(run_id: str) -> "LoadedRun":
    """The run's model (eval mode), classes, preprocessing and split. Shared: read it, never change it.

    Raises:
        RunNotFound: no such run; other TlcoreErrors if its files are damaged.
    """
    return _loaded(str(state.workspace().root), run_id)


def forget() -> None:
    """Drop every cached model (after a run is deleted)."""
    _loaded.clear()
