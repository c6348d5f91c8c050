"""A finished run on a page: test metrics, curves, confusion matrix, per-class table, confused pairs, worst images."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import streamlit as st

from tlcore.errors import TlcoreError
from ui import charts, downloads, images, state

log = logging.getLogger(__name__)


CACHE_MODES = {  # what a run's trainable part trained on (tlcore.train.results.TrainResult.cache_mode)
    "features": "cached backbone features", "prefix": "cached frozen prefix",
    "aug-bank": "cached augmentation bank", "none": "images every epoch (nothing frozen to cache)"}

def metric_row(record: dict[str, Any]) -> None:
    """Test accuracy, balanced accuracy, macro F1 and log loss, plus how long it took."""
    test = record.get("test_metrics") or {}
    cols = st.columns(5)
    for col, key, label in zip(cols, ("accuracy", "balanced_accuracy", "macro_f1"),
                               ("Test accuracy", "Balanced accuracy", "Macro F1")):
        value = test.get(key)
        col.metric(label, f"{value:.1%}" if value is not None else "—")
    loss = test.get("log_loss")
    cols[3].metric("Test log loss", f"{loss:.3f}" if loss is not None else "—")
    auto = record.get("auto")
    seconds = auto.get("seconds", 0.0) if auto else (record.get("timings") or {}).get("total", 0.0)
    cols[4].metric("Auto recipe time" if auto else "Training time", f"{seconds:.0f} s")
    best, epochs = record.get("best_epoch"), len(record.get("history", []))
    stopped = " (stopped early)" if record.get("stopped_early") else ""
    epoch_text = f"best epoch {best} of {epochs}{stopped}"
    if auto:  # the refit holds nothing back, so it has no best epoch: it trains the epochs the folds chose
        refit = auto.get("refit") or {}
        epoch_text = (f"refitted on {refit.get('images', 0):,} non-test images"
                      + (f", {epochs} epochs" if epochs else " (a scikit-learn fit)"))
    cached = f" ({record['cache_bytes'] / 2**20:,.1f} MB cached)" if record.get("cache_bytes") else ""
    st.caption(f"{record.get('backbone', '')} · {record.get('strategy', '')} · {epoch_text}"
               f" · {test.get('n', 0)} test images · augmentation: {record.get('augmentation', 'none')}"
               f" · inputs: {CACHE_MODES.get(record.get('cache_mode', ''), record.get('cache_mode', ''))}{cached}")


def test_probs(record: dict[str, Any]) -> np.ndarray | None:
    """The run's saved test-split probabilities (checked, never unpickled), or None if missing or damaged."""
    from tlcore.runs.records import PROBS_FILE, run_dir
    from tlcore.runs.store import read_test_probs

    shape = (len(record.get("split", {}).get("test", [])), len(record.get("classes") or []))
    try:
        return read_test_probs(run_dir(state.workspace(), record["id"]) / PROBS_FILE, record["id"], shape)
    except TlcoreError:
        return None


def worst_gallery(record: dict[str, Any], count: int = 12) -> None:
    """The test images the model got most wrong (highest confidence in a wrong class)."""
    probs = test_probs(record)
    test_idx = np.asarray(record.get("split", {}).get("test", []), dtype=np.int64)
    try:
        dataset = state.load_dataset_cached(record["dataset_id"])
    except TlcoreError:
        st.caption("The run's dataset is no longer in the workspace, so its test images can't be shown.")
        return
    if probs is None or len(probs) != len(test_idx):
        st.caption("This run has no saved test predictions to show.")
        return
    labels = dataset.labels[test_idx]
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if not len(wrong):
        st.success("The model got every test image right.")
        return
    order = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][:count]
    classes = record.get("classes") or list(dataset.classes)
    shown = [dataset.records[test_idx[i]] for i in order]
    captions = [f"{classes[labels[i]]} → {classes[predicted[i]]} ({probs[i, predicted[i]]:.0%})" for i in order]
    st.caption(f"{len(wrong)} of {len(test_idx)} test images misclassified; the most confident mistakes first "
               "(true → predicted, confidence).")
    images.grid([images.thumbnail(r.hash) for r in shown], captions, columns=6, width=110)


def render_run(record: dict[str, Any]) -> None:
    """Everything about a finished run's results."""
    from tlcore.metrics import most_confused_pairs

    metric_row(record)
    if record.get("auto"):  # chosen by the auto recipe: its leaderboard and why
        from ui import auto_views

        auto_views.render(record)
    st.plotly_chart(charts.curves_figure(record.get("history", [])), key=f"curves-{record['id']}")
    test = record.get("test_metrics") or {}
    classes = record.get("classes", [])
    if test.get("confusion"):
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(charts.confusion_figure(test["confusion"], classes), key=f"cm-{record['id']}")
        with right:
            st.markdown("**Per-class metrics (test split)**")
            per_class = charts.per_class_frame(test.get("per_class", []))
            st.dataframe(per_class, hide_index=True)
            downloads.csv_button("Per-class metrics (CSV)", per_class, f"per_class_{record['id']}.csv",
                                 key=f"per-class-csv-{record['id']}")
            st.markdown("**Most-confused pairs**")
            pairs = most_confused_pairs(test["confusion"], classes, top=5)
            if pairs:
                confused = charts.confused_pairs_frame(pairs)
                st.dataframe(confused, hide_index=True)
                downloads.csv_button("Most-confused pairs (CSV)", confused, f"confused_pairs_{record['id']}.csv",
                                     key=f"confused-csv-{record['id']}")
            else:
                st.caption("No confusions on the test split.")
    st.markdown("**Test images the model got most wrong**")
    worst_gallery(record)
