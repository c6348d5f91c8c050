"""Plotly figures and tables for the pages: class counts, training curves, confusion matrix, per-class metrics.

Class names come from uploads, so every name that reaches a plotly label or hover text is HTML-escaped.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.text import plotly_escape

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
_PALETTE = ("#2f6fdf", "#e4572e", "#17a398", "#f3a712", "#6c4f9c", "#29335c", "#a8c686", "#db2763")


def class_counts_figure(counts: Mapping[str, int]) -> go.Figure:
    """Bar chart of images per class, classes in the given order."""
    names = [plotly_escape(c) for c in counts]
    fig = go.Figure(go.Bar(x=names, y=list(counts.values()), marker_color=_PALETTE[0],
                           hovertemplate="%{x}: %{y} images<extra></extra>"))
    fig.update_layout(title="Images per class", xaxis_title="class", yaxis_title="images", height=320, **_LAYOUT)
    fig.update_xaxes(type="category")
    return fig


def _series(history: Sequence[Mapping], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for row in history:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            xs.append(int(row.get("epoch", len(xs) + 1)))
            ys.append(float(value))
    return xs, ys


def curves_figure(history: Sequence[Mapping], title: str = "Training curves") -> go.Figure:
    """Loss (left) and accuracy (right) per epoch for train and validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for split, colour in (("train", _PALETTE[0]), ("val", _PALETTE[1])):
            xs, ys = _series(history, f"{split}_{metric}")
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"{split} {metric}",
                                         line=dict(color=colour, dash="solid" if split == "val" else "dot")),
                              row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, height=330, legend=dict(orientation="h", y=-0.25), **_LAYOUT)
    return fig


def compare_curves_figure(histories: Mapping[str, Sequence[Mapping]], metric: str = "val_accuracy") -> go.Figure:
    """One line per run (``label -> history``) for one metric."""
    fig = go.Figure()
    for i, (label, history) in enumerate(histories.items()):
        xs, ys = _series(history, metric)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=plotly_escape(label),
                                 line=dict(color=_PALETTE[i % len(_PALETTE)])))
    fig.update_layout(title=metric.replace("_", " "), xaxis_title="epoch", height=330, **_LAYOUT)
    fig.update_xaxes(dtick=1)
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    """Heatmap of the confusion matrix, rows = true class, columns = predicted, with counts in the cells."""
    cm = np.asarray(confusion, dtype=np.int64)
    names = [plotly_escape(c) for c in classes]
    row_sums = cm.sum(axis=1, keepdims=True).clip(min=1)
    fig = go.Figure(go.Heatmap(
        z=cm / row_sums, x=names, y=names, text=cm, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
        colorbar=dict(title="row share"),
        hovertemplate="true %{y}, predicted %{x}: %{text} images<extra></extra>"))
    side = max(320, 40 * len(classes) + 120)
    fig.update_layout(title="Confusion matrix (test split)", xaxis_title="predicted", yaxis_title="true",
                      height=min(side, 900), **_LAYOUT)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def topk_figure(classes: Sequence[str], probs: Sequence[float]) -> go.Figure:
    """Horizontal bars of the top-k probabilities, highest on top."""
    names = [plotly_escape(c) for c in classes]
    fig = go.Figure(go.Bar(x=list(probs), y=names, orientation="h", marker_color=_PALETTE[0],
                           text=[f"{p:.1%}" for p in probs], textposition="auto",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(height=60 + 32 * len(names), xaxis=dict(range=[0, 1], tickformat=".0%"), **_LAYOUT)
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def per_class_frame(per_class: Sequence[Mapping]) -> pd.DataFrame:
    """Per-class precision/recall/F1/support as a table (class names stay plain text in ``st.dataframe``)."""
    frame = pd.DataFrame(list(per_class), columns=["class", "precision", "recall", "f1", "support"])
    return frame.round({"precision": 3, "recall": 3, "f1": 3})


def confused_pairs_frame(pairs: Sequence[Mapping]) -> pd.DataFrame:
    """The most-confused (true, predicted) class pairs as a table."""
    return pd.DataFrame(list(pairs), columns=["true", "predicted", "count"])
