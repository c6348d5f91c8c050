"""The Train page's learning-rate finder: a button that runs the range test (the ``lr-find`` job,
:mod:`tlcore.jobs.kinds.lr_find`) with the form's settings, its curve with the suggested rate marked, and a button
that puts the suggestion into the form as the head learning rate."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import streamlit as st

from tlcore.errors import TlcoreError
from ui import jobs
from ui.text import md_escape
from ui.train_form import LEARNING_RATES, TRAIN_CONFIG

if TYPE_CHECKING:
    from tlcore.data import Dataset
    from tlcore.jobs.manager import JobStatus
    from tlcore.train.config import TrainConfig

KIND = "lr-find"
HEAD_LR_KEY = "train-head-lr"  # the form's head learning-rate widget (ui.train_form.strategy_settings)
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")


def find_button(dataset: "Dataset", config: "TrainConfig") -> None:
    """"Find a learning rate": submit a range test with the form's settings (disabled while one runs)."""
    from tlcore.jobs.kinds.lr_find import LRFindJob

    job = jobs.latest_job(KIND)
    busy = job is not None and job.active
    if st.button("Find a learning rate", key="lr-find-start", disabled=busy,
                 help="A short mock training whose learning rate grows step by step (fastai's lr_find): it suggests "
                      "a head learning rate for these settings."):
        try:
            config.check()
            jobs.submit(LRFindJob(dataset.id, config),
                        label=f"lr-find {config.backbone} ({config.strategy.name}) on {dataset.name}")
        except TlcoreError as e:
            st.error(f"The learning-rate finder was not started: {md_escape(str(e))}")
        else:
            st.rerun()


def view() -> None:
    """This session's latest range test: progress while it runs, then the curve and the "use it" button."""
    job = jobs.latest_job(KIND)
    if job is None:
        return
    st.subheader("Learning-rate finder")
    status = jobs.live(job.id, _live)
    if status.state == "done" and status.result:
        render_result(status.result)
    elif not status.active:
        jobs.outcome(status)


def _live(status: "JobStatus", events: list[dict]) -> None:
    jobs.progress_bar(status)
    jobs.cancel_button(status)


def figure(result: dict[str, Any]) -> go.Figure:
    """The smoothed loss (and, faint, the raw one) against the learning rate on a log axis, the suggestion marked."""
    lrs = result["lrs"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lrs, y=result["losses"], mode="lines", name="loss", line=dict(color="#b0b8c8")))
    fig.add_trace(go.Scatter(x=lrs, y=result["smoothed"], mode="lines", name="smoothed loss",
                             line=dict(color="#2f6fdf")))
    index = result.get("suggested_index")
    if index is not None:
        fig.add_trace(go.Scatter(x=[lrs[index]], y=[result["smoothed"][index]], mode="markers", name="suggested",
                                 marker=dict(color="#e4572e", size=12, symbol="circle"),
                                 hovertemplate="suggested %{x:.2g}<extra></extra>"))
    finite = [v for v in result["smoothed"] if v is not None and math.isfinite(v)]
    raw = [v for v in result["losses"] if v is not None and math.isfinite(v)]
    if finite:  # the diverging end would flatten everything else; the raw losses dip below the smoothed ones
        low, high = min(finite + raw), min(max(finite), 4 * min(finite))
        fig.update_yaxes(range=[low - 0.05 * (high - low), high + 0.05 * (high - low)])
    fig.update_xaxes(type="log", title_text="head learning rate")
    fig.update_yaxes(title_text="training loss")
    fig.update_layout(title="Loss against learning rate", height=330, legend=dict(orientation="h", y=-0.3),
                      **_LAYOUT)
    return fig


def form_rate(lr: float) -> float:
    """The form's head learning rate nearest to ``lr`` (on a log scale)."""
    return min(LEARNING_RATES, key=lambda c: abs(math.log(c) - math.log(lr)))


def render_result(result: dict[str, Any]) -> None:
    """The finished range test: its curve, the suggestion in words and the button that fills it into the form."""
    st.plotly_chart(figure(result), key="lr-find-curve")
    lr = result.get("suggested_lr")
    found_for = (f"{md_escape(str(result['config'].get('backbone', '')))}, {result['strategy']}, "
                 f"inputs: {result['inputs']}, {len(result['lrs'])} steps")
    if lr is None:
        st.warning(f"No learning rate could be suggested: the loss stopped ({result['stopped']}) too early "
                   f"({found_for}).")
        return
    choice = form_rate(lr)
    st.caption(f"Suggested head learning rate **{lr:.2g}** (fastai's valley rule; {found_for}).")
    st.button(f"Use {choice:g} as the head learning rate", key="lr-find-use", on_click=use_rate, args=(choice,),
              help="Sets the form's head learning rate to the nearest rate it offers.")


def use_rate(lr: float) -> None:
    """Put ``lr`` into the training form (its widget and the kept settings)."""
    config = st.session_state.get(TRAIN_CONFIG)
    if config is not None:
        st.session_state[TRAIN_CONFIG] = replace(config, strategy=replace(config.strategy, head_lr=lr))
    st.session_state[HEAD_LR_KEY] = lr
