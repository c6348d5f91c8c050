"""Strategy comparison on shared folds and seeds, and the verdict in plain words.

:func:`compare_strategies` runs several transfer strategies, from-scratch training and the raw-pixel baseline
(:mod:`tlcore.evaluate.baseline`) on the same folds with the same seeds; :func:`verdict` says which is best and
whether its lead over the runner-up is larger than the fold-to-fold spread (a paired comparison over folds: the 95%
t-interval of the per-fold differences).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Sequence

import numpy as np

from tlcore.data import Dataset
from tlcore.evaluate.choices import TRANSFER, check_strategies
from tlcore.evaluate.contenders import Overrides, check_contenders, evaluate_contender
from tlcore.evaluate.cv import BackboneFactory, PristineBackbones, Steps
from tlcore.evaluate.folds import choose_folds
from tlcore.evaluate.results import ComparisonResult, StrategyResult, Verdict
from tlcore.evaluate.statistics import LOWER_IS_BETTER, check_metric, clearly_better, metric_sign, paired_difference
from tlcore.events import CancelToken, EventCallback, Message, ignore_event
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

log = logging.getLogger(__name__)


def _points(metric: str, value: float) -> str:
    if metric == "log_loss":
        return f"{abs(value):.3f}"
    return f"{abs(value) * 100:.1f} points"


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
    sign = metric_sign(metric)
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
        strategies: names from :data:`tlcore.evaluate.choices.CHOICES` ("pixels" is the raw-pixel logistic regression).
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
    check_contenders(config, names, overrides)  # refuse bad settings before anything runs
    fold_list = choose_folds(dataset, k, config.seed, folds)
    on_event(Message(f"comparing {', '.join(names)} on the same {len(fold_list)} folds of {dataset.name}"))
    started = time.perf_counter()
    steps = Steps(len(names) * len(fold_list), on_event)
    factory = backbone_factory or PristineBackbones()  # shared: strategies on one backbone build it once
    results = [evaluate_contender(ws, dataset, config, n, fold_list, on_event, cancel, steps, overrides, factory)
               for n in names]
    return ComparisonResult(dataset.id, dataset.name, tuple(dataset.classes), config, fold_list, results, metric,
                            verdict(results, metric), time.perf_counter() - started)
