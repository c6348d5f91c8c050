"""The data-efficiency curve: the metric against training images per class, with the spread over folds.

Each strategy trains on growing, nested, stratified shares of every fold's training part
(:func:`tlcore.evaluate.folds.subsample`) and is scored on the held-out fold; :func:`curve_points` summarises the
rows into one point per strategy and share.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from tlcore.data import Dataset
from tlcore.errors import TlcoreError
from tlcore.evaluate.baseline import pixel_matrix
from tlcore.evaluate.choices import PIXELS, STRATEGY_LABELS, check_strategies
from tlcore.evaluate.contenders import Overrides, check_contenders, evaluate_contender
from tlcore.evaluate.cv import BackboneFactory, PristineBackbones, Steps
from tlcore.evaluate.folds import choose_folds
from tlcore.evaluate.results import CurveResult
from tlcore.evaluate.statistics import METRICS, check_metric, summarize_values
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

log = logging.getLogger(__name__)

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """Sorted distinct fractions in (0, 1]."""
    out = sorted({float(f) for f in fractions})
    if not out or any(not 0 < f <= 1 for f in out):
        raise TlcoreError(f"training fractions must be above 0 and at most 1 (got {list(fractions)})")
    return out


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
    check_contenders(config, names, overrides)  # refuse bad settings before anything runs
    fold_list = choose_folds(dataset, k, config.seed, folds)
    n_classes = len(dataset.classes)
    steps = Steps(len(names) * len(fracs) * len(fold_list), on_event)
    pixels = None
    if PIXELS in names:
        pixels = pixel_matrix(ws, dataset, on_event=on_event, cancel=cancel)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    factory = backbone_factory or PristineBackbones()  # every point of the curve starts from the same copy
    for name in names:
        start = time.perf_counter()
        for fraction in fracs:
            res = evaluate_contender(ws, dataset, config, name, fold_list, on_event, cancel, steps, overrides,
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
