"""Strategy comparison and the data-efficiency curve, on shared folds and seeds.

``compare_strategies`` runs several transfer strategies, from-scratch training and the raw-pixel baseline
(:mod:`tlcore.baseline`) on the same folds with the same seeds, and says in plain words which is best and whether
its lead over the runner-up is larger than the fold-to-fold spread (a paired comparison over folds: the 95%
t-interval of the per-fold differences). ``data_efficiency_curve`` trains on growing shares of each fold's training
part and reports the metric against training images per class, with the spread over folds.
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from tlcore.data import Dataset
from tlcore.errors import TlcoreError
from tlcore.evaluate.cv import (
    LOWER_IS_BETTER,
    METRICS,
    PIXELS,
    STRATEGY_LABELS,
    BackboneFactory,
    PristineBackbones,
    Steps,
    StrategyResult,
    base_record,
    check_folds,
    make_folds,
    mean_metrics,
    oof_probs,
    run_folds,
    summarize_values,
)
from tlcore.events import CancelToken, EventCallback, Message, ignore_event
from tlcore.train.strategies import STRATEGIES
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.loop import TrainConfig

log = logging.getLogger(__name__)

CHOICES = (*STRATEGIES, PIXELS)
TRANSFER = frozenset({"feature-extraction", "fine-tune", "gradual", "full"})
DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
Overrides = Mapping[str, Mapping[str, Any]]


def check_strategies(names: Sequence[str]) -> list[str]:
    """The strategy names, validated and without repeats (order kept)."""
    out = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not out:
        raise TlcoreError(f"choose at least one strategy from: {', '.join(CHOICES)}")
    unknown = [n for n in out if n not in CHOICES]
    if unknown:
        raise TlcoreError(f"unknown strategy {unknown[0]!r}; choose from: {', '.join(CHOICES)}")
    return out


def check_metric(metric: str) -> str:
    """``metric`` if it is one the folds report."""
    if metric not in METRICS:
        raise TlcoreError(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
    return metric


def strategy_config(config: "TrainConfig", name: str, overrides: Overrides | None = None) -> "TrainConfig":
    """``config`` with strategy ``name`` and that strategy's overrides (``{"scratch": {"epochs": 5}}``)."""
    from tlcore.train.loop import TrainConfig, with_overrides

    changes = dict((overrides or {}).get(name, {}))
    known = {f.name for f in fields(TrainConfig)}
    bad = [k for k in changes if k.split("__", 1)[0] not in known]
    if bad:
        raise TlcoreError(f"unknown setting {bad[0]!r} in the overrides for {name}")
    try:
        out = with_overrides(replace(config, strategy=replace(config.strategy, name=name)), **changes)
    except (TypeError, ValueError) as e:
        raise TlcoreError(f"overrides for {name}: {e}") from e
    out.check()
    return out


def _evaluate(ws: Workspace, dataset: Dataset, config: "TrainConfig", name: str, folds: Sequence[np.ndarray],
              on_event: EventCallback, cancel: CancelToken | None, steps: Steps, overrides: Overrides | None,
              backbone_factory: BackboneFactory | None, fraction: float = 1.0,
              pixels: np.ndarray | None = None) -> StrategyResult:
    what = name if fraction >= 1 else f"{name} at {fraction:.0%}"
    if name == PIXELS:
        from tlcore.evaluate.baseline import pixel_baseline

        return pixel_baseline(ws, dataset, folds, config.seed, fraction, on_event, cancel, steps, pixels)
    return run_folds(ws, dataset, strategy_config(config, name, overrides), folds, on_event, cancel,
                     backbone_factory, fraction, steps, what)


# ---------------------------------------------------------------------------------------------------------------
# Comparison


def better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is a better value of ``metric`` than ``b``."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def _points(metric: str, value: float) -> str:
    if metric == "log_loss":
        return f"{abs(value):.3f}"
    return f"{abs(value) * 100:.1f} points"


@dataclass(frozen=True)
class Verdict:
    """Which strategy is best on ``metric`` and whether its lead over the runner-up exceeds the fold-to-fold spread."""

    metric: str
    best: str
    runner_up: str | None
    difference: float  # mean over folds of (best - runner-up); NaN without a runner-up
    half_width: float  # 95% CI half-width of that mean paired difference
    wins: int  # folds on which the best did better than the runner-up
    folds: int
    clear: bool  # the CI of the paired difference excludes 0
    text: str  # the verdict in plain words
    transfer_text: str  # what it means for transfer learning on this data


def _sign(metric: str) -> int:
    return -1 if metric in LOWER_IS_BETTER else 1


def clearly_better(diff: Mapping[str, float], metric: str) -> bool:
    """Whether a paired difference (a - b, from :func:`paired_difference`) says a is better beyond the fold spread:
    its 95% interval lies wholly on the better side of zero."""
    mean, half = _sign(metric) * diff["mean"], diff["ci_half_width"]
    return bool(not math.isnan(half) and mean - half > 0)


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean and 95% t-interval of the per-fold differences ``a - b`` (NaN folds left out)."""
    return summarize_values(list(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def verdict(results: Sequence[StrategyResult], metric: str = "accuracy") -> Verdict:
    """The best strategy by mean ``metric`` and, in plain words, whether its lead is larger than the fold spread."""
    order = sorted(results, key=lambda r: r.summary[metric]["mean"], reverse=metric not in LOWER_IS_BETTER)
    best = order[0]
    k = len(best.folds)
    if len(order) == 1:
        return Verdict(metric, best.strategy, None, math.nan, math.nan, 0, k, False,
                       f"Only {best.label} was run: nothing to compare with.", "")
    second = order[1]
    diff = paired_difference(best.values(metric), second.values(metric))
    sign = _sign(metric)
    wins = int(np.sum(sign * (best.values(metric) - second.values(metric)) > 0))
    mean, half = diff["mean"], diff["ci_half_width"]
    clear = clearly_better(diff, metric)
    name = metric.replace("_", " ")
    if metric in LOWER_IS_BETTER:
        lead = f"{best.label} has a {_points(metric, mean)} lower {name} than {second.label}"
    else:
        lead = f"{best.label} beats {second.label} by {_points(metric, mean)} of {name}"
    spread = f"±{_points(metric, half)}" if not math.isnan(half) else "unknown"
    folds_text = f"better on {wins} of {k} folds"
    if clear:
        text = f"{lead} ({folds_text}) — more than the fold-to-fold spread ({spread}, 95%): a clear winner."
    else:
        text = f"{lead} ({folds_text}), which is within the fold-to-fold spread ({spread}, 95%): no clear winner."
    return Verdict(metric, best.strategy, second.strategy, mean, half, wins, k, clear, text,
                   _transfer_text(results, best, metric))


def _transfer_text(results: Sequence[StrategyResult], best: StrategyResult, metric: str) -> str:
    """Whether transfer learning helps on this data, judged against the strategies that don't transfer."""
    transfer = [r for r in results if r.strategy in TRANSFER]
    plain = [r for r in results if r.strategy not in TRANSFER]
    if not transfer or not plain:
        return ""
    if best.strategy not in TRANSFER:
        return (f"Transfer learning does not win on this data: {best.label} does at least as well as every "
                "transfer strategy tried. Let the data decide — here it says no.")
    clear_over_all = all(clearly_better(paired_difference(best.values(metric), other.values(metric)), metric)
                         for other in plain)
    names = " and ".join(r.label for r in plain)
    if clear_over_all:
        return f"Transfer learning helps on this data: {best.label} is clearly better than {names}."
    return (f"Transfer learning is not clearly better here: {best.label} leads, but not by more than the "
            f"fold-to-fold spread over {names}.")


@dataclass
class ComparisonResult:
    """Several strategies on the same folds, with the verdict."""

    dataset_id: str
    dataset_name: str
    classes: tuple[str, ...]
    config: "TrainConfig"
    folds: list[np.ndarray]
    results: list[StrategyResult]
    metric: str
    verdict: Verdict
    seconds: float


def compare_strategies(ws: Workspace, dataset: Dataset, config: "TrainConfig", strategies: Sequence[str],
                       k: int = 5, metric: str = "accuracy", on_event: EventCallback = ignore_event,
                       cancel: CancelToken | None = None, folds: Sequence[Sequence[int]] | None = None,
                       overrides: Overrides | None = None,
                       backbone_factory: BackboneFactory | None = None) -> ComparisonResult:
    """Run each strategy on the same k folds with the same seeds and compare them.

    Args:
        ws: workspace with the images and the feature cache.
        dataset: an imported dataset.
        config: shared training settings (each strategy gets its own ``strategy.name``).
        strategies: names from :data:`CHOICES` ("pixels" is the raw-pixel logistic regression).
        k: number of folds (ignored when ``folds`` is given).
        metric: what "best" means (accuracy, balanced_accuracy, macro_f1, log_loss).
        on_event: progress events.
        cancel: checked between steps.
        folds: saved folds to reuse.
        overrides: per-strategy setting changes, e.g. ``{"scratch": {"epochs": 5, "image_size": 64}}``.
        backbone_factory: makes each fold's fresh backbone.
    """
    names = check_strategies(strategies)
    check_metric(metric)
    config.check()
    for n in names:  # refuse bad settings before anything runs
        if n != PIXELS:
            strategy_config(config, n, overrides)
    fold_list = check_folds(dataset, folds) if folds is not None else make_folds(dataset, k, config.seed)
    on_event(Message(f"comparing {', '.join(names)} on the same {len(fold_list)} folds of {dataset.name}"))
    started = time.perf_counter()
    steps = Steps(len(names) * len(fold_list), on_event)
    factory = backbone_factory or PristineBackbones()  # shared: strategies on one backbone build it once
    results = [_evaluate(ws, dataset, config, n, fold_list, on_event, cancel, steps, overrides, factory)
               for n in names]
    return ComparisonResult(dataset.id, dataset.name, tuple(dataset.classes), config, fold_list, results, metric,
                            verdict(results, metric), time.perf_counter() - started)


def comparison_rows(blocks: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One row per strategy: mean ± CI per metric, wall time, trainable parameters, gap to the best."""
    means = [b["summary"][metric]["mean"] for b in blocks]
    best_i = int(np.nanargmin(means) if metric in LOWER_IS_BETTER else np.nanargmax(means))
    best_values = np.asarray([r[metric] for r in blocks[best_i]["fold_metrics"]], dtype=np.float64)
    rows = []
    for i, b in enumerate(blocks):
        row: dict[str, Any] = {"strategy": b["strategy"], "label": b["label"], "best": i == best_i}
        for m in METRICS:
            s = b["summary"][m]
            row.update({m: s["mean"], f"{m}_ci": s["ci_half_width"], f"{m}_std": s["std"]})
        values = np.asarray([r[metric] for r in b["fold_metrics"]], dtype=np.float64)
        d = paired_difference(values, best_values)
        row["gap_to_best"] = d["mean"]
        row["gap_ci"] = d["ci_half_width"]
        row["clearly_worse"] = i != best_i and clearly_better(paired_difference(best_values, values), metric)
        row.update(seconds=b["seconds"], trainable_params=b["trainable_params"],
                   epochs=b["settings"].get("epochs"), image_size=b["settings"].get("image_size"))
        rows.append(row)
    return rows


def comparison_record(result: ComparisonResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a comparison (kind ``"compare"``)."""
    from dataclasses import asdict

    blocks = [r.to_dict(result.classes) for r in result.results]
    best = next(b for b in blocks if b["strategy"] == result.verdict.best)
    record = base_record("compare", result.dataset_id, result.dataset_name, result.classes, result.config,
                         result.folds, label)
    record.update(strategy=",".join(b["strategy"] for b in blocks), metric=result.metric, strategies=blocks,
                  rows=comparison_rows(blocks, result.metric), verdict=asdict(result.verdict),
                  test_metrics=mean_metrics(best), timings={"total": result.seconds})
    return record


def comparison_csv(record: Mapping[str, Any]) -> str:
    """The comparison table as CSV text."""
    import pandas as pd

    out = io.StringIO()
    pd.DataFrame(record["rows"]).to_csv(out, index=False)
    return out.getvalue()


def comparison_folds_csv(record: Mapping[str, Any]) -> str:
    """Every strategy's per-fold metrics as CSV text (one row per strategy and fold)."""
    import pandas as pd

    rows = [{"strategy": b["strategy"], **r} for b in record["strategies"] for r in b["fold_metrics"]]
    out = io.StringIO()
    pd.DataFrame(rows).to_csv(out, index=False)
    return out.getvalue()


def save_comparison(ws: Workspace, result: ComparisonResult, label: str = "") -> str:
    """Record a comparison in the run store (with ``comparison.csv``, ``folds.csv``, out-of-fold probabilities)."""
    from tlcore.runs.store import write_run

    record = comparison_record(result, label)
    n, c = sum(len(f) for f in result.folds), len(result.classes)
    files: dict[str, Any] = {"comparison.csv": comparison_csv(record).encode(),
                             "folds.csv": comparison_folds_csv(record).encode()}
    for r in result.results:
        files[f"oof_probs_{r.strategy}.npy"] = oof_probs(r, result.folds, n, c)
    return write_run(ws, record, files)


def summarize_comparison(record: Mapping[str, Any]) -> dict[str, Any]:
    """What ``--json`` prints for a comparison: per strategy its per-fold metrics and summary; the verdict."""
    return {"run_id": record["id"], "kind": "compare", "dataset_id": record["dataset_id"],
            "backbone": record["backbone"], "k": record["k"], "seed": record["seed"], "metric": record["metric"],
            "fold_sizes": [len(f) for f in record["folds"]],
            "strategies": [{"strategy": b["strategy"], "label": b["label"], "fold_metrics": b["fold_metrics"],
                            "summary": b["summary"], "seconds": b["seconds"],
                            "trainable_params": b["trainable_params"]} for b in record["strategies"]],
            "rows": record["rows"], "verdict": record["verdict"]}


# ---------------------------------------------------------------------------------------------------------------
# Data-efficiency curve


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """Sorted distinct fractions in (0, 1]."""
    out = sorted({float(f) for f in fractions})
    if not out or any(not 0 < f <= 1 for f in out):
        raise TlcoreError(f"training fractions must be above 0 and at most 1 (got {list(fractions)})")
    return out


@dataclass
class CurveResult:
    """Metric against training-set size for several strategies, one row per (strategy, fraction, fold)."""

    dataset_id: str
    dataset_name: str
    classes: tuple[str, ...]
    config: "TrainConfig"
    folds: list[np.ndarray]
    fractions: list[float]
    metric: str
    rows: list[dict[str, Any]]
    seconds: dict[str, float]  # wall time per strategy


def data_efficiency_curve(ws: Workspace, dataset: Dataset, config: "TrainConfig",
                          strategies: Sequence[str] = ("feature-extraction", "scratch", PIXELS),
                          fractions: Sequence[float] = DEFAULT_FRACTIONS, k: int = 5, metric: str = "accuracy",
                          on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
                          folds: Sequence[Sequence[int]] | None = None, overrides: Overrides | None = None,
                          backbone_factory: BackboneFactory | None = None) -> CurveResult:
    """Train each strategy on growing stratified shares of every fold's training part; score the held-out fold.

    Shares are nested (a smaller share is a subset of a larger one) and keep at least one image per class. Frozen
    backbones reuse the feature cache, so their points cost little beyond the first pass.
    """
    names = check_strategies(strategies)
    check_metric(metric)
    fracs = check_fractions(fractions)
    config.check()
    for n in names:
        if n != PIXELS:
            strategy_config(config, n, overrides)
    fold_list = check_folds(dataset, folds) if folds is not None else make_folds(dataset, k, config.seed)
    n_classes = len(dataset.classes)
    steps = Steps(len(names) * len(fracs) * len(fold_list), on_event)
    pixels = None
    if PIXELS in names:
        from tlcore.evaluate.baseline import pixel_matrix

        pixels = pixel_matrix(ws, dataset, on_event=on_event, cancel=cancel)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    factory = backbone_factory or PristineBackbones()  # every point of the curve starts from the same copy
    for name in names:
        start = time.perf_counter()
        for fraction in fracs:
            res = _evaluate(ws, dataset, config, name, fold_list, on_event, cancel, steps, overrides,
                            factory, fraction, pixels)
            for f in res.folds:
                n_train = f.n_train + f.n_val
                rows.append({"strategy": name, "label": res.label, "fraction": fraction, "fold": f.fold,
                             "train_images": n_train, "images_per_class": n_train / n_classes,
                             **{m: f.metrics.get(m) for m in METRICS}, "seconds": f.seconds})
        seconds[name] = time.perf_counter() - start
    return CurveResult(dataset.id, dataset.name, tuple(dataset.classes), config, fold_list, fracs, metric, rows,
                       seconds)


def curve_points(rows: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One point per (strategy, fraction): mean images per class, and the metric's mean, std and 95% CI over folds."""
    keys = list(dict.fromkeys((r["strategy"], r["fraction"]) for r in rows))
    out = []
    for strategy, fraction in keys:
        sel = [r for r in rows if r["strategy"] == strategy and r["fraction"] == fraction]
        s = summarize_values([r[metric] for r in sel])
        out.append({"strategy": strategy, "label": sel[0].get("label", STRATEGY_LABELS.get(strategy, strategy)),
                    "fraction": fraction, "images_per_class": float(np.mean([r["images_per_class"] for r in sel])),
                    "metric": metric, "mean": s["mean"], "std": s["std"], "ci_half_width": s["ci_half_width"],
                    "n": s["n"], "seconds": float(sum(r["seconds"] for r in sel))})
    return out


def curve_record(result: CurveResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a data-efficiency curve (kind ``"curve"``)."""
    record = base_record("curve", result.dataset_id, result.dataset_name, result.classes, result.config,
                         result.folds, label)
    points = curve_points(result.rows, result.metric)
    full = [p for p in points if p["fraction"] == max(result.fractions)]
    best = max(full, key=lambda p: _sign(result.metric) * p["mean"]) if full else None
    test = {}
    if best is not None:
        sel = [r for r in result.rows if r["strategy"] == best["strategy"] and r["fraction"] == best["fraction"]]
        test = {m: float(np.nanmean([r[m] for r in sel])) for m in METRICS}
    strategies = list(dict.fromkeys(r["strategy"] for r in result.rows))
    record.update(strategy=",".join(strategies), metric=result.metric, fractions=result.fractions, rows=result.rows,
                  points=points, seconds=result.seconds, test_metrics=test,
                  timings={"total": float(sum(result.seconds.values()))})
    return record


def curve_csv(record: Mapping[str, Any]) -> str:
    """The curve's points (mean, std, CI per strategy and fraction) as CSV text."""
    import pandas as pd

    out = io.StringIO()
    pd.DataFrame(record["points"]).to_csv(out, index=False)
    return out.getvalue()


def save_curve(ws: Workspace, result: CurveResult, label: str = "") -> str:
    """Record a data-efficiency curve in the run store (with ``curve.csv`` and the per-fold ``curve_folds.csv``)."""
    import pandas as pd

    from tlcore.runs.store import write_run

    record = curve_record(result, label)
    per_fold = io.StringIO()
    pd.DataFrame(record["rows"]).to_csv(per_fold, index=False)
    return write_run(ws, record, {"curve.csv": curve_csv(record).encode(),
                                  "curve_folds.csv": per_fold.getvalue().encode()})


def summarize_curve(record: Mapping[str, Any]) -> dict[str, Any]:
    """What ``--json`` prints for a curve: the points and the per-fold rows."""
    return {"run_id": record["id"], "kind": "curve", "dataset_id": record["dataset_id"],
            "backbone": record["backbone"], "k": record["k"], "seed": record["seed"], "metric": record["metric"],
            "fractions": record["fractions"], "points": record["points"], "rows": record["rows"],
            "seconds": record["seconds"]}


# ---------------------------------------------------------------------------------------------------------------
# Job kinds


