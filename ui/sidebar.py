"""The sidebar drawn on every page: the current dataset, the current run and this session's active jobs."""

from __future__ import annotations

import streamlit as st

from ui import jobs, state
from ui.text import md_escape

ACTIVE_POLL_SECONDS = 2.0


def render() -> None:
    """Draw the sidebar for this session."""
    with st.sidebar:
        _dataset_panel()
        _run_panel()
        if any(j.active for j in jobs.my_jobs()):
            _active_jobs()


def _dataset_panel() -> None:
    st.markdown("**Current dataset**")
    dataset = state.current_dataset()
    if dataset is None:
        st.caption("None yet — load the demo or upload one on the Data page.")
        return
    st.text(dataset.name)
    st.caption(f"{len(dataset.records):,} images · {len(dataset.classes)} classes · id {dataset.id}")


def _run_panel() -> None:
    st.markdown("**Current run**")
    record = state.current_run_record()
    if record is None:
        st.caption("None yet — train a model on the Train page, or pick a run on the Runs page.")
        return
    accuracy = (record.get("test_metrics") or {}).get("accuracy")
    st.text(f"{record['id']}\n{record.get('backbone', '')} · {record.get('strategy', '')}")
    if accuracy is not None:
        st.caption(f"test accuracy {accuracy:.1%} · dataset {md_escape(record.get('dataset_name', ''))}")


@st.fragment(run_every=ACTIVE_POLL_SECONDS)
def _active_jobs() -> None:
    active = [j for j in jobs.my_jobs() if j.active]
    if not active:
        st.rerun()  # a job just finished: redraw the page (and this sidebar) once
    st.markdown("**Your jobs**")
    for job in active:
        event = job.progress or {}
        if event.get("kind") == "epoch":
            where = f"epoch {event['epoch']}/{event['epochs']}"
        elif event.get("total"):
            where = f"{event.get('phase', '')} {event.get('done', 0)}/{event['total']}"
        else:
            where = job.state
        st.caption(f"{jobs.STATE_ICONS.get(job.state, '')} {md_escape(job.label or job.kind)} — {md_escape(where)}")
