"""Stratified k-fold cross-validation of one strategy: a fresh model per fold, the held-out fold as the test set.

The fold loop is outermost, with a fresh model per fold (:class:`PristineBackbones` builds each backbone once and
hands out copies). Inside a fold the held-out part is the test set and early stopping uses an inner validation part
carved from the training folds (:mod:`tlcore.evaluate.folds`). With a frozen backbone, the held-out fold is scored
from the shared feature cache, so every image passes through the backbone once for the whole k-fold run (and for
any later run on the same data). The folds are saved with the result so a re-run can use them again.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from tlcore.data import Dataset, Split
from tlcore.evaluate.choices import strategy_label
from tlcore.evaluate.folds import carve_validation, choose_folds, subsample, training_part
from tlcore.evaluate.results import CVResult, FoldResult, StrategyResult
from tlcore.events import CancelToken, EpochEnd, EventCallback, Message, PhaseStarted, ProgressTimer, ignore_event
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.models.factory import Backbone
    from tlcore.train.config import TrainConfig
    from tlcore.train.results import TrainResult

log = logging.getLogger(__name__)

BackboneFactory = Callable[["TrainConfig"], "Backbone"]


def default_backbone_factory(config: "TrainConfig") -> "Backbone":
    """A fresh backbone for one fold; random initialisations are seeded so every fold starts from the same one."""
    import torch

    from tlcore.models.factory import create_backbone
    from tlcore.train.config import wants_pretrained

    torch.manual_seed(config.seed)
    return create_backbone(config.backbone, pretrained=wants_pretrained(config), weights_file=config.weights_file)


class PristineBackbones:
    """Fresh backbones for a series of trainings, each built (and its weights read) only once.

    The first request for a (backbone, pretrained, weights file, seed) builds it with :func:`default_backbone_factory`
    and keeps it. A training that can change the backbone gets its own deep copy, so no training sees another's
    updates; one that never trains a block group (feature extraction) gets the kept backbone itself, which it only
    runs frozen, in eval mode. Building a backbone (modules, random init, reading the weights) costs about as much as
    training a linear head on cached features for a whole fold; a copy costs a few tens of milliseconds.
    """

    def __init__(self) -> None:
        self._pristine: dict[tuple[Any, ...], "Backbone"] = {}

    def __call__(self, config: "TrainConfig") -> "Backbone":
        from tlcore.train.config import wants_pretrained
        from tlcore.train.strategies import trainable_group_count

        key = (config.backbone, wants_pretrained(config), config.weights_file, config.seed)
        if key not in self._pristine:
            self._pristine[key] = default_backbone_factory(config)
        backbone = self._pristine[key]
        n_groups = len(backbone.groups)
        if all(trainable_group_count(config.strategy, n_groups, e) == 0 for e in range(config.epochs)):
            return backbone
        return copy.deepcopy(backbone)  # one call: the stages keep pointing into the copied model


def _fold_events(on_event: EventCallback, fold: int) -> EventCallback:
    def relay(event: Any) -> None:
        on_event(replace(event, fold=fold) if isinstance(event, EpochEnd) else event)

    return relay


class Steps:
    """Overall progress across the trainings of a CV, comparison or curve (phase ``"cross-validation"``)."""

    PHASE = "cross-validation"

    def __init__(self, total: int, on_event: EventCallback) -> None:
        self.done, self.on_event = 0, on_event
        self.timer = ProgressTimer(self.PHASE, total, on_event)

    def start(self, what: str) -> None:
        """Announce the next training (``what`` says which)."""
        self.on_event(PhaseStarted(what, message=f"step {self.done + 1} of {self.timer.total}"))
        self.timer.update(self.done, what, force=True)

    def finish(self, what: str) -> None:
        """Count a finished training."""
        self.done += 1
        self.timer.update(self.done, what, force=True)


def run_folds(ws: Workspace, dataset: Dataset, config: "TrainConfig", folds: Sequence[np.ndarray],
              on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
              backbone_factory: BackboneFactory | None = None, fraction: float = 1.0,
              steps: Steps | None = None, what: str = "",
              after_fold: "Callable[[int, TrainResult, np.ndarray], None] | None" = None) -> StrategyResult:
    """Train and evaluate ``config`` once per fold: a fresh model each time, the held-out fold as the test set.

    Args:
        ws: workspace with the images and the feature cache.
        dataset: the dataset the folds index.
        config: training settings; ``val_fraction`` carves the inner validation part, ``seed`` seeds everything.
        folds: held-out record indices per fold.
        on_event: progress; epoch events carry their fold number.
        cancel: checked between steps.
        backbone_factory: makes each fold's fresh backbone (default: a :class:`PristineBackbones`).
        fraction: share of each fold's training part to use (data-efficiency curve), stratified, at least 1 per class.
        steps: overall progress shared with other calls (a comparison or curve); made here if None.
        what: prefix of the progress messages (e.g. the strategy name).
        after_fold: called with (0-based fold, its training result, its held-out indices) while the fold's model
            is still there (the auto recipe scores test-time augmentation with it).
    """
    from tlcore.train.config import config_to_dict
    from tlcore.train.loop import train

    cancel = cancel or CancelToken()
    factory = backbone_factory or PristineBackbones()
    steps = steps or Steps(len(folds), on_event)
    k = len(folds)
    results: list[FoldResult] = []
    started = time.perf_counter()
    for i, held_out in enumerate(folds):
        cancel.raise_if_cancelled()
        label = f"{what + ': ' if what else ''}fold {i + 1}/{k}"
        steps.start(label)
        pool = training_part(folds, i)
        if fraction < 1:
            pool = subsample(dataset, pool, fraction, (config.seed, i, 7))
        inner_train, inner_val = carve_validation(dataset, pool, config.val_fraction, (config.seed, i, 11))
        fold_config = config
        if len(inner_val) == 0 and config.patience:
            fold_config = replace(config, patience=0)
            on_event(Message(f"{label}: too few images to hold some back for early stopping; training all "
                             f"{config.epochs} epochs"))
        split = Split(train=inner_train, val=inner_val, test=held_out, seed=config.seed,
                      val_fraction=config.val_fraction, test_fraction=1.0 / k)
        fold_start = time.perf_counter()
        result = train(ws, dataset, fold_config, split=split, on_event=_fold_events(on_event, i + 1), cancel=cancel,
                       backbone=factory(fold_config), test_from_cache=True)
        results.append(FoldResult(
            fold=i + 1, n_train=len(inner_train), n_val=len(inner_val), n_test=len(held_out),
            metrics=result.test_metrics, probs=np.asarray(result.test_probs, dtype=np.float32),
            seconds=time.perf_counter() - fold_start, trainable_params=result.trainable_params,
            history=result.history, best_epoch=result.best_epoch, stopped_early=result.stopped_early,
            cache_mode=result.cache_mode, timings=dict(result.timings)))
        if after_fold is not None:
            after_fold(i, result, held_out)
        steps.finish(label)
        acc = result.test_metrics.get("accuracy", math.nan)
        on_event(Message(f"{label}: held-out accuracy {acc:.3f} on {len(held_out)} images"))
    return StrategyResult(config.strategy.name, strategy_label(config), config_to_dict(config), results,
                          time.perf_counter() - started)


def cross_validate(ws: Workspace, dataset: Dataset, config: "TrainConfig", k: int = 5,
                   on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
                   folds: Sequence[Sequence[int]] | None = None,
                   backbone_factory: BackboneFactory | None = None) -> CVResult:
    """Stratified k-fold cross-validation of one strategy.

    Args:
        ws: workspace with the images and the feature cache.
        dataset: an imported dataset.
        config: backbone, strategy and training settings (``seed`` seeds the folds too; ``test_fraction`` is unused).
        k: number of folds (ignored when ``folds`` is given).
        on_event: progress events; epoch events carry their fold.
        cancel: checked between steps.
        folds: saved folds to reuse (validated against the dataset) instead of making new ones.
        backbone_factory: makes each fold's fresh backbone.

    Raises:
        DatasetError: a class has fewer than ``k`` distinct images, or saved folds don't fit the dataset.
        Cancelled: if ``cancel`` was set.
    """
    config.check()
    fold_list = choose_folds(dataset, k, config.seed, folds)
    on_event(Message(f"{len(fold_list)}-fold cross-validation of {strategy_label(config)} on {dataset.name} "
                     f"({len(dataset.records)} images; fold sizes {', '.join(str(len(f)) for f in fold_list)})"))
    result = run_folds(ws, dataset, config, fold_list, on_event, cancel, backbone_factory)
    return CVResult(dataset.id, dataset.name, tuple(dataset.classes), config, fold_list, result)
