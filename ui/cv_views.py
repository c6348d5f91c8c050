"""Charts, tables and downloads of the Cross-validation page: k-fold results, strategy comparisons, the curve.

Everything renders from a saved run record (kinds ``cv``, ``compare``, ``curve``), so a result looks the same live
and when reopened later. Charts download as self-contained HTML (plotly.js embedded) and as PNG through the camera
button of each chart's toolbar. Class names are escaped before they reach plotly labels.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ui import charts, downloads
from ui.text import plotly_escape

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss")
NAMES = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "f1": "F1",
         "log_loss": "log loss"}
PALETTE = ("#2f6fdf", "#e4572e", "#17a398", "#f3a712", "#6c4f9c", "#29335c", "#a8c686", "#db2763")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")


# ---------------------------------------------------------------------------------------------------------------
# Figures (pure: record data in, plotly figure out)


def spread_figure(block: Mapping[str, Any]) -> go.Figure:
    """One panel per metric: a box and every fold as a dot, with the mean ± 95% CI."""
    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=[NAMES[m] for m in METRICS])
    rows = block["fold_metrics"]
    for col, metric in enumerate(METRICS, 1):
        values = [r[metric] for r in rows]
        folds = [f"fold {r['fold']}" for r in rows]
        fig.add_trace(go.Box(y=values, name=NAMES[metric], boxpoints="all", jitter=0.4, pointpos=0,
                             marker=dict(color=PALETTE[0], size=8), line=dict(color="#9aa5b1"),
                             fillcolor="rgba(0,0,0,0)",
                             text=folds, hovertemplate="%{text}: %{y:.4f}<extra></extra>", showlegend=False),
                      row=1, col=col)
        s = block["summary"][metric]
        if not math.isnan(s["ci_half_width"]):
            fig.add_trace(go.Scatter(x=[NAMES[metric]], y=[s["mean"]], mode="markers", showlegend=False,
                                     marker=dict(color=PALETTE[1], symbol="diamond", size=11),
                                     error_y=dict(type="data", array=[s["ci_half_width"]], color=PALETTE[1]),
                                     hovertemplate=f"mean %{{y:.4f}} ± {s['ci_half_width']:.4f} (95% CI)"
                                                   "<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(title="Spread over folds (dots: folds; diamond: mean ± 95% CI)", height=340, **_LAYOUT)
    return fig


def per_class_figure(block: Mapping[str, Any], metric: str = "f1") -> go.Figure:
    """Per-class ``metric`` on each fold: a box per class with the folds as dots."""
    frame = pd.DataFrame(block["per_class"])
    fig = go.Figure()
    for cls in dict.fromkeys(frame["class"]) if len(frame) else []:
        sel = frame[frame["class"] == cls]
        fig.add_trace(go.Box(y=sel[metric], name=plotly_escape(cls), boxpoints="all", jitter=0.3, pointpos=0,
                             marker=dict(color=PALETTE[0], size=6), line=dict(color="#9aa5b1"), showlegend=False,
                             text=[f"fold {f}" for f in sel["fold"]],
                             hovertemplate="%{x}, %{text}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=f"Per-class {NAMES.get(metric, metric)} across folds", yaxis=dict(range=[0, 1.02]),
                      height=340, **_LAYOUT)
    fig.update_xaxes(type="category")
    return fig


def fold_curves_figure(histories: Sequence[Sequence[Mapping[str, Any]]]) -> go.Figure:
    """Validation loss and accuracy per epoch, one line per fold."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation loss", "validation accuracy"))
    for i, history in enumerate(histories):
        epochs = [h["epoch"] for h in history]
        for col, key in ((1, "val_loss"), (2, "val_accuracy")):
            fig.add_trace(go.Scatter(x=epochs, y=[h.get(key) for h in history], mode="lines+markers",
                                     name=f"fold {i + 1}", legendgroup=f"fold {i + 1}", showlegend=col == 1,
                                     line=dict(color=PALETTE[i % len(PALETTE)])), row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_layout(title="Training curves per fold", height=330, legend=dict(orientation="h", y=-0.25), **_LAYOUT)
    return fig


def comparison_figure(record: Mapping[str, Any], metric: str) -> go.Figure:
    """Each strategy's ``metric`` per fold (dots joined by fold) and its mean ± 95% CI."""
    fig = go.Figure()
    blocks = record["strategies"]
    labels = [b["label"] for b in blocks]
    k = record["k"]
    for fold in range(k):
        fig.add_trace(go.Scatter(x=labels, y=[b["fold_metrics"][fold][metric] for b in blocks], mode="lines+markers",
                                 line=dict(color="#c9d1d9", width=1), marker=dict(color="#9aa5b1", size=6),
                                 name="each fold", legendgroup="folds", showlegend=fold == 0,
                                 hovertemplate=f"fold {fold + 1}: %{{y:.4f}}<extra></extra>"))
    means = [b["summary"][metric]["mean"] for b in blocks]
    halves = [b["summary"][metric]["ci_half_width"] for b in blocks]
    best = [r["best"] for r in record["rows"]]
    fig.add_trace(go.Scatter(x=labels, y=means, mode="markers", name="mean ± 95% CI",
                             marker=dict(size=13, symbol="diamond",
                                         color=[PALETTE[1] if b else PALETTE[0] for b in best]),
                             error_y=dict(type="data", array=halves, color="#444"),
                             hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    fig.update_layout(title=f"{NAMES[metric]} by strategy (grey lines join the same fold; red: best)", height=380,
                      yaxis_title=NAMES[metric], **_LAYOUT)
    fig.update_xaxes(type="category")
    return fig


def curve_figure(record: Mapping[str, Any]) -> go.Figure:
    """The data-efficiency curve: metric against training images per class, error bars = std over folds."""
    points = pd.DataFrame(record["points"])
    metric = record["metric"]
    fig = go.Figure()
    for i, strategy in enumerate(dict.fromkeys(points["strategy"])):
        sel = points[points["strategy"] == strategy].sort_values("images_per_class")
        std = [0.0 if (isinstance(v, float) and math.isnan(v)) else v for v in sel["std"]]
        fig.add_trace(go.Scatter(
            x=sel["images_per_class"], y=sel["mean"], mode="lines+markers", name=sel["label"].iloc[0],
            error_y=dict(type="data", array=std, visible=True), line=dict(color=PALETTE[i % len(PALETTE)], width=3),
            customdata=sel["fraction"],
            hovertemplate="%{x:.1f} images per class (%{customdata:.0%}): %{y:.4f}<extra></extra>"))
    ticks = sorted(set(round(float(x), 1) for x in points["images_per_class"]))
    if metric != "log_loss" and record.get("classes"):
        chance = 1 / len(record["classes"])
        fig.add_hline(y=chance, line=dict(color="#9aa5b1", dash="dash"), annotation_text="chance",
                      annotation_position="bottom right")
    fig.update_layout(title=f"Data efficiency: {NAMES[metric]} against training images per class "
                            f"(error bars: std over {record['k']} folds)", height=420,
                      xaxis=dict(title="training images per class (log scale)", type="log", tickvals=ticks,
                                 ticktext=[f"{t:g}" for t in ticks]),
                      yaxis_title=NAMES[metric], legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Streamlit pieces


def chart(fig: go.Figure, key: str, filename: str) -> None:
    """Draw ``fig`` (PNG from its toolbar's camera button) with a download of it as self-contained HTML.

    The HTML embeds plotly.js (about 4 MB), so it is only built when the button is clicked.
    """
    st.plotly_chart(fig, key=key, config={"toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
                                          "displaylogo": False})
    st.download_button("Chart as HTML", lambda: fig.to_html(include_plotlyjs=True, full_html=True),  # made on click
                       f"{filename}.html", "text/html", key=f"{key}-html", icon=":material/download:")


def fold_progress(events: Sequence[Mapping[str, Any]]) -> None:
    """Overall progress over the trainings (folds × strategies × fractions) of a running job."""
    last = next((e for e in reversed(events) if e.get("kind") == "progress" and e.get("phase") == "cross-validation"),
                None)
    if last is None:
        return
    done, total = last["done"], last["total"]
    st.progress(min(1.0, done / total) if total else 0.0, text=f"{done} of {total} trainings done · now: "
                                                                f"{last.get('message', '')}")


def _fmt(s: Mapping[str, float], metric: str) -> str:
    if metric == "log_loss":
        mean, half = f"{s['mean']:.3f}", f"{s['ci_half_width']:.3f}"
    else:
        mean, half = f"{s['mean'] * 100:.1f}%", f"{s['ci_half_width'] * 100:.1f}"
    return mean if math.isnan(s["ci_half_width"]) else f"{mean} ± {half}"


def strategy_block(block: Mapping[str, Any], classes: Sequence[str], key: str) -> None:
    """One strategy on k folds: summary cards, per-fold table, spread, per class, confusions, training curves."""
    from tlcore.evaluate.tables import fold_frame, per_class_frame, summary_frame

    cols = st.columns(len(METRICS) + 1)
    for col, metric in zip(cols, METRICS):
        col.metric(f"{NAMES[metric]} (mean ± 95% CI)", _fmt(block["summary"][metric], metric))
    cols[-1].metric("Wall time", f"{block['seconds']:.0f} s")
    st.caption(f"{len(block['fold_metrics'])} folds · {block['trainable_params']:,} trainable parameters · "
               "CI from the t distribution over folds (sample std, ddof = 1)")
    st.markdown("**Per fold**")
    st.dataframe(fold_frame(block), hide_index=True, key=f"{key}-folds")
    st.dataframe(summary_frame(block), hide_index=True, key=f"{key}-summary")
    chart(spread_figure(block), f"{key}-spread", "spread_over_folds")
    left, right = st.columns(2)
    with left:
        chart(per_class_figure(block), f"{key}-perclass", "per_class_f1")
        frame = per_class_frame(block)
        table = frame.groupby("class", sort=False)[["precision", "recall", "f1"]].agg(["mean", "std"]).round(3)
        table.columns = [f"{a} {b}" for a, b in table.columns]
        st.dataframe(table.reset_index(), hide_index=True, key=f"{key}-perclass-table")
        downloads.csv_button("Per-class metrics (CSV)", table.reset_index(), f"per_class_{key}.csv",
                             key=f"{key}-perclass-csv")
    with right:
        options = ["all folds (summed)"] + [f"fold {r['fold']}" for r in block["fold_metrics"]]
        pick = st.selectbox("Confusion matrix", options, key=f"{key}-cm-pick")
        matrix = block["confusion_sum"] if pick == options[0] else block["confusions"][options.index(pick) - 1]
        fig = charts.confusion_figure(matrix, classes)
        fig.update_layout(title=f"Confusion matrix ({pick})")
        chart(fig, f"{key}-cm", "confusion_matrix")
    if any(block["histories"]):
        chart(fold_curves_figure(block["histories"]), f"{key}-curves", "fold_training_curves")


def render_cv(record: Mapping[str, Any]) -> None:
    """A saved k-fold cross-validation."""
    from tlcore.evaluate.tables import cv_csv

    block = record["result"]
    st.markdown(f"**{block['label']}** · {record['backbone']} · {record['k']} folds · seed {record['seed']}")
    strategy_block(block, record["classes"], f"cv-{record['id']}")
    st.download_button("Per-fold table (CSV)", cv_csv(record), f"cv_{record['id']}.csv", "text/csv",
                       key=f"cv-{record['id']}-csv", icon=":material/download:")


def _highlight_best(row: pd.Series) -> list[str]:
    return ["background-color: #dff3e4; font-weight: bold" if row["best"] else "" for _ in row]


def render_compare(record: Mapping[str, Any]) -> None:
    """A saved comparison: verdict, table with the best highlighted, per-fold chart, and each strategy in detail."""
    from tlcore.evaluate.tables import comparison_csv, comparison_folds_csv

    metric, verdict = record["metric"], record["verdict"]
    (st.success if verdict["clear"] else st.info)(verdict["text"])
    if verdict.get("transfer_text"):
        st.markdown(f"**{verdict['transfer_text']}**")
    rows = pd.DataFrame(record["rows"])
    shown = rows[["best", "label", *METRICS, f"{metric}_ci", "gap_to_best", "clearly_worse", "seconds",
                  "trainable_params", "epochs", "image_size"]]
    st.dataframe(shown.style.apply(_highlight_best, axis=1).format(precision=4), hide_index=True,
                 key=f"cmp-{record['id']}-table")
    st.caption(f"Same {record['k']} folds and seed ({record['seed']}) for every strategy. '{metric}_ci': half-width "
               "of the 95% CI of the mean. 'gap_to_best': mean per-fold difference to the best; 'clearly_worse': its "
               "95% CI excludes zero. Wall time includes computing cached backbone features for the first strategy "
               "that needs them.")
    chart(comparison_figure(record, metric), f"cmp-{record['id']}-chart", "strategy_comparison")
    c1, c2 = st.columns(2)
    c1.download_button("Comparison table (CSV)", comparison_csv(record), f"comparison_{record['id']}.csv", "text/csv",
                       key=f"cmp-{record['id']}-csv", icon=":material/download:")
    c2.download_button("Per-fold metrics (CSV)", comparison_folds_csv(record), f"comparison_folds_{record['id']}.csv",
                       "text/csv", key=f"cmp-{record['id']}-folds-csv", icon=":material/download:")
    labels = [b["label"] for b in record["strategies"]]
    pick = st.selectbox("Details of one strategy", labels, key=f"cmp-{record['id']}-pick")
    strategy_block(record["strategies"][labels.index(pick)], record["classes"], f"cmp-{record['id']}-detail")


def render_curve(record: Mapping[str, Any]) -> None:
    """A saved data-efficiency curve: the chart and its table."""
    from tlcore.evaluate.tables import curve_csv

    chart(curve_figure(record), f"curve-{record['id']}", "data_efficiency_curve")
    points = pd.DataFrame(record["points"])
    table = points[["label", "fraction", "images_per_class", "mean", "std", "ci_half_width", "n", "seconds"]]
    st.dataframe(table.round({"images_per_class": 1, "mean": 4, "std": 4, "ci_half_width": 4, "seconds": 1}),
                 hide_index=True, key=f"curve-{record['id']}-table")
    st.caption("Each point: a stratified share of every fold's training part (nested shares, at least one image "
               "per class), scored on the held-out fold; mean and std over folds.")
    st.download_button("Curve table (CSV)", curve_csv(record), f"curve_{record['id']}.csv", "text/csv",
                       key=f"curve-{record['id']}-csv", icon=":material/download:")


_RENDERERS = {"cv": render_cv, "compare": render_compare, "curve": render_curve}
# what reading a record that lacks a key or holds a value of the wrong shape raises (the file is untrusted)
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def render(record: Mapping[str, Any]) -> None:
    """Any cv/compare/curve record; one the views cannot read is cleared and reported as damaged.

    Raises:
        RunDamaged: naming the run and what in its record could not be read.
    """
    from tlcore.runs.checks import damaged

    kind = record.get("kind")
    if kind not in _RENDERERS:
        raise damaged(str(record.get("id")), f"run.json has kind {kind!r}, not one of {', '.join(_RENDERERS)}")
    slot = st.empty()
    try:
        with slot.container():
            _RENDERERS[kind](record)
    except _SHAPE_ERRORS as e:
        slot.empty()  # no half-drawn view
        problem = f"missing {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        raise damaged(str(record.get("id")), f"its {kind} results cannot be read ({problem})") from e
