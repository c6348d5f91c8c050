"""Train: pick a backbone and a strategy (auto by default), start a background job, watch it live, read the results."""

from __future__ import annotations

import streamlit as st

from tlcore.errors import TlcoreError
from ui import auto_views, charts, jobs, lr_find, results, state, train_form
from ui.text import md_escape

JOB_KINDS = ("train", "auto")  # the jobs this page starts and shows

st.title("Train")
dataset = state.current_dataset()
if dataset is None:
    st.info("No dataset yet — load the demo or upload one on the Data page.", icon=":material/info:")
    st.page_link("pages/2_Data.py", label="Go to Data", icon=":material/photo_library:")
    st.stop()
st.text(f"Dataset: {dataset.name} — {len(dataset.records):,} images, {len(dataset.classes)} classes")

with st.spinner("Loading the backbone catalogue…"):
    specs = train_form.backbone_specs()
form = train_form.settings(specs)

job = next(iter(j for j in jobs.my_jobs() if j.kind in JOB_KINDS), None)
busy = job is not None and job.active
start, find = st.columns(2)
if start.button("Start training", type="primary", disabled=busy, key="train-start",
                help="Your training is still running — cancel it or wait." if busy else None):
    try:
        jobs.submit(form.job(dataset.id), label=form.label(dataset.name))
    except TlcoreError as e:
        st.error(f"Training was not started: {md_escape(str(e))}")
    else:
        st.rerun()
if form.auto is None:
    with find:
        lr_find.find_button(dataset, form.config)
    lr_find.view()
else:
    find.caption("No learning-rate finder needed: auto runs its own range test for each candidate it trains.")


def live_view(status, events) -> None:
    """Progress, ETA, live curves and the cancel button of a running training job."""
    jobs.progress_bar(status)
    jobs.cancel_button(status)
    history = jobs.epoch_history(events)
    if history:
        st.plotly_chart(charts.curves_figure(history, title="Live training curves"), key="train-live-curves")
    for event in events[-200:]:
        if event.get("kind") == "message" and event.get("level") == "warning":
            st.warning(md_escape(event["text"]))


if job is not None:
    st.divider()
    st.subheader("Latest training")
    st.text(job.label)
    status = jobs.live(job.id, auto_views.live_view if job.kind == "auto" else live_view)
    if status.state == "done" and status.result and status.result.get("run_id"):
        run_id = status.result["run_id"]
        if st.session_state.get(state.TRAIN_ADOPTED) != job.id:
            st.session_state[state.TRAIN_ADOPTED] = job.id
            state.set_current_run(run_id)
            st.rerun()  # redraw the sidebar with the new current run
        from tlcore.runs.records import get_run

        try:
            results.render_run(get_run(state.workspace(), run_id))
        except TlcoreError as e:
            st.warning(f"The run {run_id} can't be shown any more: {md_escape(str(e))}")
        st.page_link("pages/4_Predict.py", label="Next: classify new images", icon=":material/arrow_forward:")
    elif not status.active:
        jobs.outcome(status)
