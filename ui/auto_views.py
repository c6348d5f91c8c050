"""The auto recipe on a page: its leaderboard filling while the job runs, and for a finished run the final
leaderboard, why the winner was kept, the table of candidates, their learning-rate range tests and, per scored
candidate, "Open as its own training" (the Train form filled with that candidate's settings).

The rows are the ``rows`` of a :class:`tlcore.events.Leaderboard` event, or ``record["auto"]["leaderboard"]`` of a
run (see :mod:`tlcore.auto.choose`): ``name``, ``label``, ``kind``, ``status`` (planned | running | done | skipped |
failed), ``reason``, ``estimated_seconds`` and, once done, ``mean``, ``ci_low``, ``ci_high``, ``seconds``,
``settings`` and ``winner``.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import jobs, lr_find, state, train_form
from ui.text import md_escape, plotly_escape

if TYPE_CHECKING:
    from tlcore.jobs.manager import JobStatus

TRAINED = ("head", "fine-tune", "scratch")  # kinds whose rows carry the exact TrainConfig they trained with
PENDING = ("running", "planned")
NOT_SCORED = ("skipped", "failed")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
_COLOURS = {"done": "#2f6fdf", "winner": "#17a398"}


def latest_board(events: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The newest ``leaderboard`` event of a job's events, or None before the plan is ready."""
    return next((dict(e) for e in reversed(events) if e.get("kind") == "leaderboard"), None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def ordered(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Done rows best first, then running, planned, skipped and failed ones in the order they were planned."""
    rank = {"done": 0, "running": 1, "planned": 2, "skipped": 3, "failed": 4}
    return sorted(rows, key=lambda r: (rank.get(r.get("status", ""), 5),
                                       -(_number(r.get("mean")) or 0.0) if r.get("status") == "done" else 0.0))


def leaderboard_figure(rows: Sequence[Mapping[str, Any]], title: str = "Candidates by cross-validated accuracy"
                       ) -> go.Figure:
    """Horizontal bars of each done candidate's CV mean with its 95% interval as error bars (the winner in green),
    best on top; running and planned candidates below them as words; skipped and failed ones are left out."""
    shown = [r for r in ordered(rows) if r.get("status") not in NOT_SCORED]
    done = [r for r in shown if r.get("status") == "done"]
    pending = [r for r in shown if r.get("status") in PENDING]
    labels = [plotly_escape(r.get("label") or r.get("name", "")) for r in shown]
    fig = go.Figure()
    if done:
        means = [_number(r.get("mean")) or 0.0 for r in done]
        high = [max(0.0, (_number(r.get("ci_high")) or m) - m) for r, m in zip(done, means)]
        low = [max(0.0, m - (_number(r.get("ci_low")) or m)) for r, m in zip(done, means)]
        fig.add_trace(go.Bar(
            x=means, y=labels[:len(done)], orientation="h", name="cross-validated accuracy",
            marker_color=[_COLOURS["winner"] if r.get("winner") else _COLOURS["done"] for r in done],
            error_x=dict(type="data", symmetric=False, array=high, arrayminus=low, color="#29335c", thickness=1.5),
            text=[f"{m:.1%}" + (" · winner" if r.get("winner") else "") for r, m in zip(done, means)],
            textposition="inside", insidetextanchor="start",
            customdata=[[_ci_text(r), _seconds(r.get("seconds"))] for r in done],
            hovertemplate="%{y}<br>mean %{x:.1%} · 95% CI %{customdata[0]}<br>%{customdata[1]}<extra></extra>"))
    if pending:
        fig.add_trace(go.Scatter(
            x=[0.0] * len(pending), y=labels[len(done):], mode="text", name="to do", hoverinfo="skip",
            text=[_pending_text(r) for r in pending], textposition="middle right"))
    fig.update_xaxes(range=[0, 1.0], tickformat=".0%", title_text="mean accuracy over the folds, with its 95% CI")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed")
    fig.update_layout(title=title, height=110 + 36 * max(1, len(shown)), showlegend=False, **_LAYOUT)
    return fig


def _pending_text(row: Mapping[str, Any]) -> str:
    estimate = _number(row.get("estimated_seconds"))
    about = f" · about {jobs.format_seconds(estimate)}" if estimate is not None else ""
    return ("running…" if row.get("status") == "running" else "planned") + about


def _ci_text(row: Mapping[str, Any]) -> str:
    low, high = _number(row.get("ci_low")), _number(row.get("ci_high"))
    return f"{low:.1%} – {high:.1%}" if low is not None and high is not None else "—"


def _seconds(value: Any) -> str:
    seconds = _number(value)
    return f"{seconds:.0f} s" if seconds is not None else "—"


def leaderboard_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per candidate: candidate, name, status, CV mean, 95% CI, seconds taken, estimated seconds, reason."""
    out = []
    for r in ordered(rows):
        status = r.get("status", "")
        out.append({"candidate": r.get("label", ""), "name": r.get("name", ""),
                    "status": "done · winner" if r.get("winner") else status,
                    "CV mean": _number(r.get("mean")), "95% CI": _ci_text(r) if status == "done" else "",
                    "seconds": _number(r.get("seconds")), "estimated seconds": _number(r.get("estimated_seconds")),
                    "reason": r.get("reason") or ""})
    frame = pd.DataFrame(out, columns=["candidate", "name", "status", "CV mean", "95% CI", "seconds",
                                       "estimated seconds", "reason"])
    return frame.round({"seconds": 1, "estimated seconds": 0})


def not_scored(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``"<label> — skipped: <reason>"`` for every candidate that was skipped or failed."""
    return [f"{r.get('label') or r.get('name')} — {r.get('status')}: {r.get('reason') or 'no reason recorded'}"
            for r in rows if r.get("status") in NOT_SCORED]


def budget_text(board: Mapping[str, Any], wall_elapsed: float | None = None) -> str:
    """``"1 min 5 s of the 5 min 0 s budget · about 2 min 10 s left · scoring …"``."""
    elapsed = max(float(board.get("elapsed") or 0.0), wall_elapsed or 0.0)
    eta = _number(board.get("eta"))
    text = f"{jobs.format_seconds(elapsed)} of the {jobs.format_seconds(board.get('budget'))} budget"
    if eta is not None:
        text += f" · about {jobs.format_seconds(eta)} left"
    return text + (f" · {board['message']}" if board.get("message") else "")


def live_view(status: "JobStatus", events: list[dict]) -> None:
    """A running auto job: the current step, the time budget, the leaderboard so far, skips, cancel, warnings."""
    jobs.progress_bar(status)
    board = latest_board(events)
    if board is None:
        st.caption("Measuring this machine and planning which candidates fit the budget…")
    else:
        wall = time.time() - status.started if status.started else None
        budget = float(board.get("budget") or 0.0)
        share = min(1.0, max(board.get("elapsed") or 0.0, wall or 0.0) / budget) if budget > 0 else 0.0
        st.progress(share, text=md_escape(budget_text(board, wall)))
        rows = board.get("rows") or []
        st.plotly_chart(leaderboard_figure(rows, "Leaderboard so far"), key="auto-live-board")
        _skipped(rows)
    jobs.cancel_button(status)
    for event in events[-200:]:
        if event.get("kind") == "message" and event.get("level") == "warning":
            st.warning(md_escape(event["text"]))


def _skipped(rows: Sequence[Mapping[str, Any]]) -> None:
    lines = not_scored(rows)
    if lines:
        st.markdown("**Not scored**")
        st.text("\n".join(lines))


def render(record: Mapping[str, Any]) -> None:
    """A finished auto run: the final leaderboard, why the winner was kept, the table, the range tests and the
    "Open as its own training" buttons."""
    auto = record["auto"]
    rows = auto.get("leaderboard") or []
    run_id = record["id"]
    st.markdown("**How auto chose**")
    st.info(md_escape(auto.get("reason") or "No reason was recorded."), icon=":material/emoji_events:")
    refit = auto.get("refit") or {}
    st.caption(f"{auto.get('selection_images', 0):,} non-test images scored on {len(auto.get('folds') or [])} folds; "
               f"the winner refitted on {refit.get('images', 0):,} images "
               f"({str(refit['epochs']) + ' epochs' if refit.get('epochs') else 'a scikit-learn fit'}) and "
               f"tested once; the whole recipe took {jobs.format_seconds(auto.get('seconds'))} of a "
               f"{jobs.format_seconds((auto.get('settings') or {}).get('budget'))} budget.")
    st.plotly_chart(leaderboard_figure(rows, "Final leaderboard"), key=f"auto-board-{run_id}")
    unscored = len(not_scored(rows))
    if unscored:
        st.caption(f"{unscored} candidate{'s were' if unscored > 1 else ' was'} not scored; the table says why.")
    st.dataframe(leaderboard_frame(rows), hide_index=True,
                 column_config={"CV mean": st.column_config.NumberColumn(format="percent")})
    curves = auto.get("lr_curves") or {}
    if curves:
        with st.expander(f"Learning-rate range tests of the trained candidates ({len(curves)})"):
            for tab, (name, curve) in zip(st.tabs([md_escape(n) for n in curves]), curves.items()):
                with tab:
                    st.plotly_chart(lr_find.figure(curve), key=f"auto-lr-{run_id}-{name}")
                    if curve.get("suggested_lr") is not None:
                        st.caption(f"Suggested head learning rate {curve['suggested_lr']:.2g} (fastai's valley rule).")
    open_buttons(record)


def open_buttons(record: Mapping[str, Any]) -> None:
    """Per scored candidate, "Open as its own training": fill the Train form with it and go there."""
    done = [r for r in ordered(record["auto"].get("leaderboard") or []) if r.get("status") == "done"]
    if not done:
        return
    st.markdown("**Open a candidate as its own training**")
    for row in done:
        trained = row.get("kind") in TRAINED and "train_config" in (row.get("settings") or {})
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.text(f"{row.get('label')} — {_number(row.get('mean')) or 0.0:.1%}")
        help_text = ("Fills the Train form with the exact settings it trained with (its learning rate, head, "
                     "augmentation and epochs); adjust them and start the training." if trained else
                     "A scikit-learn fit, not a training: selects auto with only this candidate, to score and "
                     "train just it.")
        if right.button("Open as its own training", key=f"auto-open-{record['id']}-{row['name']}", help=help_text,
                        on_click=open_candidate, args=(dict(record), dict(row))):
            st.switch_page("pages/3_Train.py")
    filled = st.session_state.get(train_form.FILLED)
    if filled and filled[2] == record["id"]:  # the form above holds one of these candidates now
        st.success(md_escape(f"{filled[0]} The form is at the top of the Train page."), icon=":material/arrow_upward:")


def open_candidate(record: Mapping[str, Any], row: Mapping[str, Any]) -> None:
    """Put candidate ``row`` of run ``record`` into the Train form (an ``on_click`` callback: before the widgets)."""
    from tlcore.auto.config import auto_from_dict
    from tlcore.train.config import config_from_dict

    if record.get("dataset_id"):
        state.set_current_dataset(record["dataset_id"])
    settings = row.get("settings") or {}
    if row.get("kind") in TRAINED and "train_config" in settings:
        config = config_from_dict(settings["train_config"])
        train_form.fill_training(config, f"The form holds the settings {row.get('label')} trained with in run "
                                         f"{record['id']} (head learning rate {config.strategy.head_lr:.2g}, "
                                         f"{config.epochs} epochs): press Start training to train it on its own.",
                                 source=record["id"])
        return
    auto = auto_from_dict({**(record["auto"].get("settings") or {}), "only": row["name"]})
    train_form.fill_auto(auto, int(record.get("seed") or 0),
                         f"Auto is set to score and train only {row.get('label')} ({row['name']}), as in run "
                         f"{record['id']}: press Start training.", source=record["id"])
