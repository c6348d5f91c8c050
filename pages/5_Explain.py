"""Explain: what did the model look at for a prediction, and can that picture be trusted?"""

from __future__ import annotations

import streamlit as st

from tlcore.errors import TlcoreError
from tlcore.runs.records import list_runs
from ui import explain_views, jobs, models, state, uploads
from ui.text import md_escape

RESULT, JOB, REPORT, REPORT_JOB = "tl_explain_result", "tl_explain_job", "tl_explain_report", "tl_explain_report_job"
UPLOAD_GENERATION = "tl_explain_upload_generation"  # bumped when an upload over the caps is refused
st.title("Explain")
ws = state.workspace()
runs = {r.id: r for r in list_runs(ws, kind="train")}
if not runs:
    st.info("No saved runs yet — train a model first.", icon=":material/info:")
    st.page_link("pages/3_Train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

from tlcore.data import load_image  # noqa: E402
from tlcore.explain import (  # noqa: E402  (imported after the empty state: keeps that path light)
    FILTERS, METHODS, SIGNS, explain_run, load_explanation, pick_test_images)

ids = list(runs)
current = state.current_run_id()
run_id = st.selectbox("Run", ids, index=ids.index(current) if current in ids else 0, key="explain-run",
                      format_func=lambda i: " · ".join((i, runs[i].backbone, runs[i].strategy, runs[i].dataset_name)))
if run_id != current:
    state.set_current_run(run_id)
try:
    with st.spinner("Loading the model…"):
        run = models.loaded_run(run_id)
        dataset = state.load_dataset_cached(run.dataset_id)
except TlcoreError as e:
    st.error(f"This run cannot be explained: {md_escape(str(e))}")
    st.stop()
classes = run.classes

source = st.radio("Images", ("From the test split", "Upload images"), horizontal=True, key="explain-source")
picks, files = [], []
if source == "From the test split":
    c1, c2, c3 = st.columns(3)
    chosen = c1.selectbox("Show", list(FILTERS), format_func=FILTERS.get, key="explain-filter")
    label = c2.selectbox("True class", [None, *range(len(classes))], key="explain-class",
                         format_func=lambda i: "All classes" if i is None else classes[i])
    count = c3.slider("How many", 1, 12, 4, key="explain-count")
    try:
        picks = pick_test_images(run, dataset, chosen, label, count)
    except TlcoreError as e:  # the recorded test predictions are read here: a damaged file is named, not a crash
        st.error(f"The test images can't be picked: {md_escape(str(e))}")
    if not picks:
        st.info("No test images match this choice.", icon=":material/info:")
else:
    key = f"explain-upload-{st.session_state.get(UPLOAD_GENERATION, 0)}"
    files = st.file_uploader("Images to explain", accept_multiple_files=True, key=key,
                             on_change=uploads.refuse_over_caps, args=(key, UPLOAD_GENERATION)) or []
    uploads.show_refusal()

names = {"predicted": "The predicted class", "true": "The true class", **dict(enumerate(classes))}
target = st.selectbox("Explain which class", ["predicted", *(["true"] if picks else []), *range(len(classes))],
                      format_func=names.get, key="explain-target")
methods = st.multiselect("Methods", list(METHODS), default=["gradcam", "saliency"], key="explain-methods",
                         format_func=lambda m: METHODS[m].label + (" (slow: runs in the background)"
                                                                   if METHODS[m].speed == "job" else ""))
with st.expander("Display and trust checks"):
    sign = st.radio("Colour", SIGNS[:2], horizontal=True, key="explain-sign",
                    format_func={"positive": "Evidence for the class", "absolute": "Evidence either way"}.get)
    opacity = st.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="explain-opacity")
    sanity = st.checkbox("Sanity check: do the maps change when the model's weights are randomised?", True,
                         key="explain-sanity")
    faith = st.checkbox("Faithfulness: does removing the highlighted pixels first hurt the prediction most?",
                        key="explain-faith")


def follow(key: str, keep: str, read) -> None:
    """Show the job kept under ``key`` while it runs; once done, store ``read(job result)`` under ``keep``."""
    status = jobs.live(st.session_state[key], lambda s, _: (jobs.progress_bar(s), jobs.cancel_button(s)))
    if not status.active:
        st.session_state[key] = None
        if status.state == "done":
            st.session_state[keep] = read(status.result)
        jobs.outcome(status)


background = faith or any(METHODS[m].speed == "job" for m in methods)
if st.button("Explain", type="primary", disabled=not methods or not (picks or files), key="explain-go"):
    try:
        if background:
            from tlcore.jobs.kinds.explain import ExplainJob

            images: dict = {"hashes": tuple(p.hash for p in picks)}
            if not picks:
                from ui.uploads import spool, upload_limits

                _, pairs = spool(ws, files, upload_limits())
                images = {"files": tuple(str(p) for _, p in pairs), "names": tuple(n for n, _ in pairs)}
            request = ExplainJob(run_id, tuple(methods), **images, target=target, sanity=sanity, faithfulness=faith)
            st.session_state[JOB] = jobs.submit(request, label=f"explain {run_id}")
        else:
            progress = jobs.InlineProgress("Computing maps…")
            images = [load_image(ws, p.hash) for p in picks] or [f.getvalue() for f in files]
            st.session_state[RESULT] = explain_run(
                ws, run, images, methods, target=target, true_labels=[p.true_label for p in picks] or None,
                names=[p.name for p in picks] or [f.name for f in files], sanity=sanity, check_faithfulness=faith,
                on_event=progress)
            progress.done()
    except TlcoreError as e:
        st.error(f"Explaining failed: {md_escape(str(e))}")
if st.session_state.get(JOB):
    follow(JOB, RESULT, lambda r: load_explanation(ws.root / r["folder"]))

result = st.session_state.get(RESULT)
if result is not None and result.run_id == run_id:
    explain_views.show_explanation(result, classes, sign, opacity)

st.divider()
st.subheader("Review report")
st.caption("One HTML file to share: dataset summary, metrics, confusion matrix, a gallery of correct and wrong "
           "predictions with their maps, and the sanity-check results.")
if st.button("Build the report", key="explain-report-go"):
    from tlcore.jobs.kinds.explain import ReportJob

    try:
        st.session_state[REPORT_JOB] = jobs.submit(ReportJob(run_id, tuple(methods or ["gradcam"])),
                                                   label=f"report {run_id}")
    except TlcoreError as e:
        st.error(f"The report failed: {md_escape(str(e))}")
if st.session_state.get(REPORT_JOB):
    follow(REPORT_JOB, REPORT, lambda r: (r["run_id"], (ws.root / r["path"]).read_bytes()))
report = st.session_state.get(REPORT)
if report and report[0] == run_id:
    st.download_button("Download the report (HTML)", report[1], file_name=f"review-{run_id}.html", mime="text/html",
                       key="explain-report-download", type="primary")
