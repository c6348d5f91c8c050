"""The review report's "How the recipe was chosen" section: the auto recipe's reason, its leaderboard and an
inline SVG bar chart of the candidates' cross-validated means with their 95% intervals (no JS).

The input is the ``auto`` block of a run record (:meth:`tlcore.auto.runner.AutoResult.record`), read back from
``run.json`` and so treated as untrusted: :func:`auto_summary` keeps only well-typed values (a number that is not
a finite number shows as a dash), and every text that reaches the HTML is escaped. Torch-free.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

AUTO_SECTION = ("auto", "How the recipe was chosen")  # (element id, heading), shown only for auto runs
STATUS_WORDS = {"done": "scored", "skipped": "skipped", "failed": "failed", "planned": "not reached",
                "running": "interrupted"}
AUTO_CSS = """
tr.win td{background:#eef6ee}.badge{display:inline-block;padding:0 .4em;border-radius:3px;font-size:.8em;
margin-left:.3em;background:#1a7f37;color:#fff}.badge.best{background:#2166ac}svg.chart{max-width:100%;height:auto}
.leaderboard td.num{white-space:nowrap}
"""

# The chart's geometry, in SVG user units.
_WIDTH, _LEFT, _PLOT, _ROW, _TOP = 730, 20, 560, 36, 8


@dataclass(frozen=True)
class AutoRow:
    """One leaderboard row as the report shows it."""

    name: str
    label: str
    status: str  # done | skipped | failed | planned | running, as recorded
    mean: float | None  # mean CV score over the folds (done rows)
    ci_low: float | None
    ci_high: float | None
    seconds: float | None  # measured (done rows) or, failing that, estimated
    estimated: bool  # whether ``seconds`` is the estimate
    reason: str  # why a candidate was skipped or failed
    winner: bool
    best: bool  # the highest mean (differs from the winner when a cheaper candidate was kept)


@dataclass(frozen=True)
class AutoSummary:
    """What the section shows: the reason sentence, the rows, and how the selection ran."""

    reason: str
    metric: str
    rows: tuple[AutoRow, ...]
    folds: int | None  # number of folds every candidate was scored on
    selection_images: int | None  # non-test images the folds were cut from
    budget: float | None  # seconds
    seconds: float | None  # what the whole recipe took
    refit: Mapping[str, Any]  # images, epochs, seconds of the winner's refit


def _number(value: Any) -> float | None:
    """``value`` as a finite float, else None (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def auto_summary(block: Any) -> AutoSummary:
    """The section's content from a record's ``auto`` block; missing or ill-typed parts are left out, not fatal."""
    block = block if isinstance(block, Mapping) else {}
    winner, best = _text(block.get("winner")), _text(block.get("best"))
    rows = []
    for raw in block.get("leaderboard") if isinstance(block.get("leaderboard"), list) else []:
        if not isinstance(raw, Mapping):
            continue
        name = _text(raw.get("name"))
        status = _text(raw.get("status")) or "unknown"
        seconds = _number(raw.get("seconds")) if status == "done" else None
        estimated = seconds is None and _number(raw.get("estimated_seconds")) is not None
        rows.append(AutoRow(
            name=name, label=_text(raw.get("label")) or name or "?", status=status,
            mean=_number(raw.get("mean")) if status == "done" else None,
            ci_low=_number(raw.get("ci_low")), ci_high=_number(raw.get("ci_high")),
            seconds=seconds if seconds is not None else _number(raw.get("estimated_seconds")), estimated=estimated,
            reason=_text(raw.get("reason")), winner=raw.get("winner") is True or (bool(name) and name == winner),
            best=bool(name) and name == best and best != winner))
    folds = block.get("folds")
    settings = block.get("settings") if isinstance(block.get("settings"), Mapping) else {}
    refit = block.get("refit") if isinstance(block.get("refit"), Mapping) else {}
    selection = _number(block.get("selection_images"))
    return AutoSummary(
        reason=_text(block.get("reason")), metric=_text(block.get("metric")) or "accuracy", rows=tuple(rows),
        folds=len(folds) if isinstance(folds, list) else None,
        selection_images=int(selection) if selection is not None else None,
        budget=_number(settings.get("budget")), seconds=_number(block.get("seconds")), refit=refit)


def ranked(rows: Sequence[AutoRow]) -> list[AutoRow]:
    """Scored rows by mean, best first (ties: the faster first), then the others in their recorded order."""
    scored = sorted((r for r in rows if r.mean is not None),
                    key=lambda r: (-(r.mean or 0.0), r.seconds if r.seconds is not None else math.inf))
    return scored + [r for r in rows if r.mean is None]


def render_auto(summary: AutoSummary) -> str:
    """The section's inner HTML: how the selection ran, the reason, the chart and the leaderboard table."""
    metric = summary.metric.replace("_", " ")
    rows = ranked(summary.rows)
    n_scored = sum(r.mean is not None for r in rows)
    facts = [f"{len(rows)} candidate{'s' if len(rows) != 1 else ''} considered, {n_scored} scored"]
    if summary.folds:
        facts.append(f"by {summary.folds}-fold cross-validation")
    if summary.selection_images is not None:
        facts.append(f"on the {summary.selection_images:,} non-test images")
    if summary.budget is not None:
        facts.append(f"within a budget of {_seconds(summary.budget)}")
    took = f" (the whole recipe took {_seconds(summary.seconds)})" if summary.seconds is not None else ""
    intro = " ".join(facts) + took + "."
    refit = _refit_sentence(summary.refit)
    parts = [f"<p>{_e(intro)} {_e(refit)}</p>" if refit else f"<p>{_e(intro)}</p>"]
    if summary.reason:
        parts.append(f"<p><b>Why this recipe:</b> {_e(summary.reason)}</p>")
    if not rows:
        return "".join(parts) + "<p class='muted'>No leaderboard recorded.</p>"
    chart = bar_chart_svg(rows, metric)
    if chart:
        parts.append(chart)
    parts.append(_table(rows, metric))
    return "".join(parts)


def _refit_sentence(refit: Mapping[str, Any]) -> str:
    images, epochs, seconds = (_number(refit.get(k)) for k in ("images", "epochs", "seconds"))
    if images is None:
        return ""
    text = f"The winner was then refitted on all {int(images):,} non-test images"
    if epochs:
        text += f" for {int(epochs)} epoch{'s' if int(epochs) != 1 else ''}"
    if seconds is not None:
        text += f" ({_seconds(seconds)})"
    return text + " and tested once on the test split, whose scores the rest of this report shows."


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _ci(row: AutoRow) -> str:
    """The interval as text, clipped to [0, 100%] (a t-interval over few folds can reach past a perfect score)."""
    if row.mean is None or row.ci_low is None or row.ci_high is None:
        return "—"
    return f"{_pct(max(0.0, row.ci_low))} – {_pct(min(1.0, row.ci_high))}"


def _table(rows: Sequence[AutoRow], metric: str) -> str:
    head = (f"<tr><th>#</th><th>candidate</th><th>status</th><th>CV mean {_e(metric)}</th><th>95% CI</th>"
            "<th>seconds</th><th>reason</th></tr>")
    body, win = [], " class='win'"
    for i, r in enumerate(rows, 1):
        badges = ("<span class='badge'>winner</span>" if r.winner else "") + (
            "<span class='badge best'>highest mean</span>" if r.best else "")
        seconds = "—" if r.seconds is None else (f"~{r.seconds:.0f} (est.)" if r.estimated else f"{r.seconds:.1f}")
        name = f" <span class='muted'>{_e(r.name)}</span>" if r.name and r.name != r.label else ""
        body.append(
            f"<tr{win if r.winner else ''}>"
            f"<td class='num'>{i if r.mean is not None else ''}</td><td>{_e(r.label)}{name}{badges}</td>"
            f"<td>{_e(STATUS_WORDS.get(r.status, r.status))}</td><td class='num'>{_pct(r.mean)}</td>"
            f"<td class='num'>{_ci(r)}</td><td class='num'>{seconds}</td>"
            f"<td>{_e(r.reason) if r.status != 'done' else ''}</td></tr>")
    note = ("<p class='muted'>CV mean: the mean over the folds of each candidate's held-out score; 95% CI: a "
            "t-interval over the folds, cut at 0 and 100%. Seconds: measured for scored candidates, the plan's estimate for the others."
            "</p>")
    return f"<table class='leaderboard'>{head}{''.join(body)}</table>{note}"


def axis_start(rows: Sequence[AutoRow]) -> float:
    """Where the chart's value axis starts: 0, or a round tenth below every bar and whisker when all are above
    one half (so that differences of a few points stay visible; the chart says where its axis starts)."""
    values = [v for r in rows if r.mean is not None for v in (r.mean, r.ci_low) if v is not None]
    if not values or min(values) <= 0.5:
        return 0.0
    lo = math.floor(min(values) * 10) / 10
    return max(0.0, lo - 0.1 if min(values) - lo < 0.02 else lo)


def bar_chart_svg(rows: Sequence[AutoRow], metric: str = "accuracy") -> str:
    """An inline SVG: one bar per scored candidate (its CV mean), a whisker for its 95% CI, the winner in green.

    Empty when no row has a mean.
    """
    bars = [r for r in rows if r.mean is not None]
    if not bars:
        return ""
    lo = axis_start(bars)
    height = _TOP + _ROW * len(bars) + 36

    def x(v: float) -> float:
        return _LEFT + _PLOT * (min(1.0, max(lo, v)) - lo) / (1.0 - lo)

    out = [f"<svg class='chart' xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{height}' "
           f"viewBox='0 0 {_WIDTH} {height}' role='img' aria-label='{_e('CV mean ' + metric + ' per candidate')}' "
           "font-family='system-ui,sans-serif' font-size='12'>"]
    bottom = _TOP + _ROW * len(bars)
    for i in range(11):
        v = lo + (1.0 - lo) * i / 10
        out.append(f"<line x1='{x(v):.1f}' y1='{_TOP}' x2='{x(v):.1f}' y2='{bottom}' stroke='#eee'/>")
        if i % 2 == 0:
            out.append(f"<text x='{x(v):.1f}' y='{bottom + 14}' text-anchor='middle' fill='#666'>{v:.0%}</text>")
    for i, r in enumerate(bars):
        top = _TOP + _ROW * i
        colour = "#1a7f37" if r.winner else "#2166ac" if r.best else "#9bb8d6"
        tip = f"{r.label}: {_pct(r.mean)}" + (f" (95% CI {_ci(r)})" if _ci(r) != "—" else "")
        out.append(f"<g><title>{_e(tip)}</title>")
        out.append(f"<text x='{_LEFT}' y='{top + 11}' fill='#222'>{_e(r.label)}"
                   f"{' (winner)' if r.winner else ''}</text>")
        out.append(f"<rect x='{_LEFT}' y='{top + 15}' width='{max(0.0, x(r.mean or 0.0) - _LEFT):.1f}' height='14' "
                   f"fill='{colour}'/>")
        if r.ci_low is not None and r.ci_high is not None:
            a, b, mid = x(r.ci_low), x(r.ci_high), top + 22
            out.append(f"<path d='M{a:.1f} {mid}H{b:.1f}M{a:.1f} {mid - 5}V{mid + 5}M{b:.1f} {mid - 5}V{mid + 5}' "
                       "stroke='#222' stroke-width='1.5' fill='none'/>")
        out.append(f"<text x='{_LEFT + _PLOT + 8}' y='{top + 27}' fill='#222'>{_pct(r.mean)}</text></g>")
    out.append(f"<text x='{_LEFT}' y='{bottom + 28}' fill='#666'>CV mean {_e(metric)} with 95% CI; the axis starts "
               f"at {lo:.0%}</text></svg>")
    return "".join(out)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
