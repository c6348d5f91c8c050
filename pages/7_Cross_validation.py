"""Cross-validation: honest k-fold estimates, strategy comparisons and the data-efficiency curve, as background jobs."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from tlcore.errors import TlcoreError
from ui import cv_views, jobs, state, train_form
from ui.text import md_escape

KINDS = ("cv", "compare", "curve")
MODES = {"Cross-validate one strategy": "cv", "Compare strategies": "compare", "Data-efficiency curve": "curve"}
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)

st.title("Cross-validation")
dataset = state.current_dataset()
if dataset is None:
    st.info("No dataset yet — load the demo or upload one on the Data page.", icon=":material/info:")
    st.page_link("pages/2_Data.py", label="Go to Data", icon=":material/photo_library:")
    st.stop()

from tlcore.data.augment import NO_AUGMENT  # noqa: E402  (after the empty-state check: keeps that path light)
from tlcore.data.split import distinct_counts  # noqa: E402
from tlcore.evaluate.choices import CHOICES, STRATEGY_LABELS  # noqa: E402
from tlcore.evaluate.statistics import METRICS  # noqa: E402
from tlcore.jobs.kinds.evaluate import CompareJob, CurveJob, CVJob  # noqa: E402
from tlcore.train.config import TrainConfig  # noqa: E402
from tlcore.train.strategies import STRATEGIES  # noqa: E402

smallest = min(distinct_counts(dataset).values())
st.text(f"Dataset: {dataset.name} — {len(dataset.records):,} images, {len(dataset.classes)} classes "
        f"(smallest class: {smallest} distinct images)")
if smallest < 2:
    st.error("Every class needs at least 2 distinct images for cross-validation; add images on the Data page.")
    st.stop()

mode = st.radio("What to run", list(MODES), horizontal=True, key="cv-mode")
kind = MODES[mode]
with st.spinner("Loading the backbone catalogue…"):
    specs = train_form.backbone_specs()
left, right = st.columns(2)
with left:
    spec = train_form.backbone_picker(specs)
with right:
    label = STRATEGY_LABELS.get
    if kind == "cv":
        chosen = [st.selectbox("Strategy", STRATEGIES, key="cv-strategy", format_func=label)]
    else:
        chosen = st.multiselect("Strategies", CHOICES, default=["feature-extraction", "scratch", "pixels"],
                                key="cv-strategies", format_func=label,
                                help="'raw pixels + logistic regression' needs no deep learning: the baseline "
                                     "transfer learning has to beat.")
c1, c2, c3, c4, c5 = st.columns(5)
k = c1.number_input("Folds (k)", 2, min(smallest, 20), min(5, smallest), key="cv-k",
                    help=f"At most {min(smallest, 20)}: every class needs at least k distinct images.")
seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key="cv-seed", help="Seeds the folds, initialisation and shuffling.")
epochs = c3.number_input("Epochs", 1, 200, 10, key="cv-epochs")
augment = c4.checkbox("Augmentation", value=False, key="cv-augment",
                      help="Use the Data page's augmentations. With a frozen backbone each augmented view costs one "
                           "more backbone pass over the images.")
metric = c5.selectbox("Best by", METRICS, key="cv-metric", disabled=kind == "cv", format_func=cv_views.NAMES.get)
overrides: dict = {}
if kind != "cv" and "scratch" in chosen:
    with st.expander("From-scratch settings (training every layer from random weights is slow on a CPU)"):
        s1, s2 = st.columns(2)
        s_epochs = s1.number_input("Epochs for from scratch", 1, 200, int(epochs), key="cv-scratch-epochs")
        s_size = s2.number_input("Image size for from scratch (px, 0 = the backbone's own)", 0, 512, 0, step=16,
                                 key="cv-scratch-size")
        overrides = {"scratch": {"epochs": int(s_epochs), **({"image_size": int(s_size)} if s_size else {})}}
fractions = [1.0]
if kind == "curve":
    fractions = st.multiselect("Shares of each fold's training data", FRACTIONS, default=[0.1, 0.25, 0.5, 1.0],
                               key="cv-fractions", format_func=lambda f: f"{f:.0%}")
st.caption("Other settings (learning rates, head, schedule, early stopping) come from the Train page. Early stopping "
           "watches an inner validation part of each fold's training data; the held-out fold is only scored.")

last = st.session_state.get(train_form.TRAIN_CONFIG) or TrainConfig()
base = chosen[0] if chosen and chosen[0] in STRATEGIES else "feature-extraction"
augmentation = (st.session_state.get(state.AUGMENT) or last.augment) if augment else NO_AUGMENT
config = replace(last, backbone=spec.name, epochs=int(epochs), seed=int(seed),
                 strategy=replace(last.strategy, name=base), augment=augmentation)
job = next(iter(j for j in jobs.my_jobs() if j.kind in KINDS), None)
busy = job is not None and job.active
if st.button(f"Start: {mode.lower()}", type="primary", disabled=busy or not chosen or not fractions, key="cv-start",
             help="Your job is still running — cancel it or wait." if busy else None):
    if kind == "cv":
        request = CVJob(dataset.id, config, folds=int(k))
    else:
        comparison = dict(folds=int(k), strategies=tuple(chosen), metric=metric, overrides=overrides)
        request = CompareJob(dataset.id, config, **comparison) if kind == "compare" else CurveJob(
            dataset.id, config, **comparison, fractions=tuple(sorted(fractions)))
    try:
        config.check()
        jobs.submit(request, label=f"{mode.lower()}: {', '.join(chosen)} on {dataset.name} ({int(k)} folds)")
    except TlcoreError as e:
        st.error(f"Not started: {md_escape(str(e))}")
    else:
        st.rerun()


def live_view(status, events) -> None:
    """Overall and current progress, cancel, and warnings of a running job."""
    cv_views.fold_progress(events)
    jobs.progress_bar(status)
    jobs.cancel_button(status)
    for event in events[-200:]:
        if event.get("kind") == "message" and event.get("level") == "warning":
            st.warning(md_escape(event["text"]))


if job is not None:
    st.divider()
    st.subheader("Latest job")
    st.text(job.label)
    status = jobs.live(job.id, live_view)
    if not status.active and status.state != "done":
        jobs.outcome(status)

from tlcore.runs.records import get_run, list_runs  # noqa: E402

ws = state.workspace()
runs = sorted((r for kd in KINDS for r in list_runs(ws, dataset_id=dataset.id, kind=kd)), key=lambda r: -r.created)
if runs:
    st.divider()
    st.subheader("Results")
    by_id = {r.id: r for r in runs}

    def describe(run_id: str) -> str:
        r = by_id[run_id]
        acc = f" · accuracy {r.test_accuracy:.1%}" if r.test_accuracy is not None else ""
        return f"{r.id} · {r.kind} · {r.strategy}{acc}"

    shown = st.selectbox("Show", list(by_id), format_func=describe, key=f"cv-show-{runs[0].id}")
    try:
        cv_views.render(get_run(ws, shown))
    except TlcoreError as e:
        st.warning(f"The run {shown} can't be shown: {md_escape(str(e))}")
