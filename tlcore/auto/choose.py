"""The leaderboard, the winner and the reason in plain words.

The best candidate is the one with the highest mean CV accuracy. A candidate that took less time is kept instead
when the best one's lead over it is within one standard error of their paired per-fold differences (the
"one-standard-error rule" of Breiman et al.'s CART and of glmnet): a lead the fold-to-fold spread can explain is no
reason to pay for the dearer recipe. Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from tlcore.auto.candidates import Candidate
from tlcore.auto.scoring import Scored
from tlcore.evaluate.statistics import summarize_values

METRIC = "accuracy"


@dataclass(frozen=True)
class Choice:
    """The winner, the best-scoring candidate (they differ when the cheaper one was kept) and why."""

    winner: Scored
    best: Scored
    reason: str


def paired_se(a: Scored, b: Scored, metric: str = METRIC) -> tuple[float, float]:
    """Mean and standard error of the per-fold differences ``a - b``."""
    d = a.result.values(metric) - b.result.values(metric)
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return (float(d.mean()) if len(d) else math.nan), math.nan
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def choose(scored: Sequence[Scored], metric: str = METRIC) -> Choice:
    """Pick the winner among ``scored`` (at least one) and say why."""
    if not scored:
        raise ValueError("choose() needs at least one scored candidate")
    best = max(scored, key=lambda s: (s.mean(metric), -s.seconds))
    winner = best
    for s in sorted(scored, key=lambda s: s.seconds):
        if s is best or s.seconds >= best.seconds:
            continue
        lead, se = paired_se(best, s, metric)
        if not math.isnan(lead) and (lead <= 0 or (not math.isnan(se) and lead <= se)):
            winner = s
            break
    return Choice(winner, best, reason(winner, best, scored, metric))


def _plain_name(c: "Candidate") -> str:
    return {"probe": "the linear probe", "pixels": "raw pixels"}.get(c.kind, f"the {c.label}")


def _pct(x: float) -> str:
    return f"{x:.1%}"


def reason(winner: Scored, best: Scored, scored: Sequence[Scored], metric: str = METRIC) -> str:
    """Why ``winner`` was kept, in words a stakeholder reads: honest about pixels beating ImageNet features, and about
    a dearer recipe that was not clearly better."""
    w, kinds = winner.candidate, {s.candidate.kind for s in scored}
    text = (f"{w.label} scored {_pct(winner.mean(metric))} mean cross-validated {metric.replace('_', ' ')} over "
            f"{len(winner.result.folds)} folds")
    if winner is not best:
        lead, se = paired_se(best, winner, metric)
        dearer = "fine-tuning" if best.candidate.kind == "fine-tune" else best.candidate.label
        text += (f"; {best.candidate.label} scored {_pct(best.mean(metric))}, but {dearer} was not clearly better "
                 f"than {_plain_name(w)} (a lead of {lead:+.1%}, within one "
                 f"standard error of {se:.1%} over the folds), so the cheaper one was kept "
                 f"({winner.seconds:.0f} s against {best.seconds:.0f} s).")
    else:
        others = [s for s in scored if s is not winner]
        if others:
            runner = max(others, key=lambda s: s.mean(metric))
            lead, se = paired_se(winner, runner, metric)
            text += (f", ahead of {runner.candidate.label} ({_pct(runner.mean(metric))}; a lead of {lead:+.1%} "
                     f"against a standard error of {se:.1%}).")
        else:
            text += "; it was the only candidate scored."
    deep = [s for s in scored if s.candidate.kind != "pixels"]
    if w.kind == "pixels" and deep and all(winner.mean(metric) >= s.mean(metric) for s in deep):
        text += (" Raw pixels beat every pretrained backbone here: ImageNet features fit this data poorly, so the "
                 "plain pixel model is the honest choice.")
    elif w.kind == "fine-tune" and "probe" in kinds:
        probe = max((s for s in scored if s.candidate.kind == "probe"), key=lambda s: s.mean(metric))
        if winner.mean(metric) > probe.mean(metric):
            text += (f" Fine-tuning beat the best linear probe ({_pct(probe.mean(metric))}): the pretrained "
                     "features needed adapting to this data.")
    elif w.kind == "probe" and "fine-tune" in kinds and winner is best:
        text += " Fine-tuning did not beat the linear probe: the frozen features already fit this data."
    return text


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def leaderboard_row(scored: Scored, estimated: float, metric: str = METRIC) -> dict[str, Any]:
    """A finished candidate's leaderboard row (JSON-ready)."""
    summary = summarize_values(list(scored.result.values(metric)))
    row = {**scored.candidate.to_dict(), "status": "done", "reason": "", "metric": metric,
           "mean": summary["mean"], "std": summary["std"], "ci_low": _clip(summary["ci_low"]),
           "ci_high": _clip(summary["ci_high"]),  # a t-interval cut to what an accuracy can be
           "fold_scores": [float(v) for v in scored.result.values(metric)],
           "seconds": scored.seconds, "estimated_seconds": estimated, "settings": scored.settings,
           "lr": scored.config.strategy.head_lr if scored.config else None}
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
