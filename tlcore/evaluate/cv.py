"""Stratified k-fold cross-validation: honest, stable estimates on small datasets.

Folds are dealt with scikit-learn's ``StratifiedKFold`` over the distinct images (content-hash groups), seeded, so
identical images always fall in the same fold and the same seed always gives the same folds; the folds are saved
with the result so a re-run can use them again. The fold loop is outermost, with a fresh model per fold. Inside a
fold the held-out part is the test set and early stopping uses an inner validation part carved (stratified,
group-aware, seeded) from the training folds. With a frozen backbone, the held-out fold is scored from the shared
feature cache, so every image passes through the backbone once for the whole k-fold run (and for any later run on
the same data).
"""

from __future__ import annotations

import copy
import io
import logging
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from tlcore.data import Dataset, Split, check_class_sizes, hash_groups
from tlcore.errors import DatasetError, TlcoreError
from tlcore.events import CancelToken, EpochEnd, EventCallback, Message, PhaseStarted, ProgressTimer, ignore_event
from tlcore.metrics import SUMMARY_KEYS
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.models.backbones import Backbone
    from tlcore.train.loop import TrainConfig

log = logging.getLogger(__name__)

CONFIDENCE = 0.95
METRICS = SUMMARY_KEYS  # accuracy, balanced_accuracy, macro_f1, log_loss
LOWER_IS_BETTER = frozenset({"log_loss"})
PIXELS = "pixels"  # the traditional baseline: logistic regression on raw pixels (tlcore.baseline)
STRATEGY_LABELS = {
    "feature-extraction": "feature extraction",
    "fine-tune": "fine-tune last groups",
    "gradual": "gradual unfreezing",
    "full": "full fine-tune",
    "scratch": "from scratch",
    PIXELS: "raw pixels + logistic regression",
}
BackboneFactory = Callable[["TrainConfig"], "Backbone"]


# ---------------------------------------------------------------------------------------------------------------
# Folds


def make_folds(dataset: Dataset, k: int, seed: int = 0) -> list[np.ndarray]:
    """Stratified, group-aware, seeded k folds: the held-out record indices of each fold (sorted).

    Raises:
        DatasetError: if ``k`` is below 2 or a class has fewer than ``k`` distinct images (the message names the
            class and its count).
    """
    from sklearn.model_selection import StratifiedKFold

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise DatasetError(f"the number of folds must be a whole number of at least 2 (got {k!r})")
    try:
        check_class_sizes(dataset, k, f"a {k}-fold cross-validation")
    except DatasetError as e:
        from tlcore.data.split import distinct_counts

        smallest = min(distinct_counts(dataset).values(), default=0)
        hint = f"; use at most {smallest} folds or add images to that class" if smallest >= 2 else ""
        raise DatasetError(f"{e}{hint}") from None
    # Deal the distinct images, not the records: copies of one image then always share a fold. A group takes its
    # lowest class (as make_split does). StratifiedKFold on the groups is the same stratified, group-aware deal as
    # StratifiedGroupKFold, whose greedy search takes a noticeable fraction of a second on a thousand images.
    groups = hash_groups(dataset)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    group_label = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(group_label, groups, dataset.labels)
    splitter = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class whose images all also sit in a lower class: it has no groups
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        dealt = [test for _, test in splitter.split(np.zeros(n_groups), group_label)]
    folds = [np.flatnonzero(np.isin(groups, test)).astype(np.int64) for test in dealt]
    if any(len(f) == 0 for f in folds):
        raise DatasetError(f"dataset {dataset.name!r} has too few distinct images for {k} folds")
    log.debug("folds for %s (k=%d, seed=%d): sizes %s", dataset.id, k, seed, [len(f) for f in folds])
    return folds


def check_folds(dataset: Dataset, folds: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Validate saved folds against ``dataset``: at least 2, disjoint, covering every image once, duplicates together.

    Returns:
        The folds as sorted int64 arrays.
    """
    arrays = [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
    n = len(dataset.records)
    if len(arrays) < 2:
        raise DatasetError(f"saved folds: need at least 2 folds (got {len(arrays)})")
    joined = np.concatenate(arrays)
    if len(joined) != n or not np.array_equal(np.sort(joined), np.arange(n)):
        raise DatasetError(f"saved folds don't cover the {n} images of dataset {dataset.name!r} exactly once; "
                           "they belong to another dataset")
    fold_of = np.empty(n, dtype=np.int64)
    for i, f in enumerate(arrays):
        fold_of[f] = i
    groups = hash_groups(dataset)
    for g in np.unique(groups):
        if len(np.unique(fold_of[groups == g])) > 1:
            raise DatasetError("saved folds put copies of the same image in different folds")
    return arrays


def training_part(folds: Sequence[np.ndarray], i: int) -> np.ndarray:
    """The record indices of every fold but fold ``i`` (0-based), sorted."""
    return np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i]))


def _class_groups(dataset: Dataset, indices: np.ndarray) -> dict[int, list[list[int]]]:
    """Per class, the members of each distinct image among ``indices``, ordered by hash (record order independent).

    A hash found under several classes is placed with its lowest class, as :func:`tlcore.data.make_split` does.
    """
    hashes, records = dataset.hashes, dataset.records
    by_hash: dict[str, list[int]] = {}
    for i in indices:
        by_hash.setdefault(hashes[int(i)], []).append(int(i))
    per_class: dict[int, list[list[int]]] = {}
    for h in sorted(by_hash):
        members = by_hash[h]
        per_class.setdefault(min(records[i].label for i in members), []).append(members)
    return per_class


def carve_validation(dataset: Dataset, indices: np.ndarray, fraction: float, seed: Sequence[int] | int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (train, validation): per class ``fraction`` of its distinct images, seeded.

    A class with a single distinct image keeps it for training (it gets no validation image).
    """
    if fraction <= 0:
        return np.sort(np.asarray(indices, dtype=np.int64)), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for _, groups in sorted(_class_groups(dataset, indices).items()):
        n = len(groups)
        n_val = 0 if n < 2 else min(n - 1, max(1, int(round(n * fraction))))
        for rank, g in enumerate(rng.permutation(n)):
            (val if rank < n_val else train).extend(groups[g])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


def subsample(dataset: Dataset, indices: np.ndarray, fraction: float, seed: Sequence[int] | int) -> np.ndarray:
    """A stratified share of ``indices``: per class ``fraction`` of its distinct images (at least one), seeded.

    With the same seed, a smaller fraction gives a subset of a larger one, so curve points differ only in size.
    """
    if not 0 < fraction <= 1:
        raise TlcoreError(f"training fraction must be above 0 and at most 1 (got {fraction})")
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    for _, groups in sorted(_class_groups(dataset, indices).items()):
        order = rng.permutation(len(groups))
        for g in order[:max(1, int(round(len(groups) * fraction)))]:
            kept.extend(groups[g])
    return np.sort(np.asarray(kept, dtype=np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Statistics


def summarize_values(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean, sample standard deviation (ddof=1) and a t-distribution confidence interval of the mean.

    NaN values are left out; ``n`` says how many counted.
    """
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half, "ci_half_width": half, "n": n}


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass
class FoldResult:
    """One fold: the held-out fold's metrics and what training on the other folds took."""

    fold: int  # 1-based
    n_train: int
    n_val: int
    n_test: int
    metrics: dict[str, Any]  # classification_metrics of the held-out fold
    probs: np.ndarray  # held-out probabilities, rows in the fold's (sorted) index order
    seconds: float
    trainable_params: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    cache_mode: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The fold's line of the per-fold table."""
        out: dict[str, Any] = {"fold": self.fold, "n_train": self.n_train, "n_val": self.n_val, "n_test": self.n_test}
        out.update({m: self.metrics.get(m) for m in METRICS})
        out.update(seconds=self.seconds, best_epoch=self.best_epoch, stopped_early=self.stopped_early,
                   trainable_params=self.trainable_params, cache_mode=self.cache_mode)
        return out


@dataclass
class StrategyResult:
    """One strategy (or the pixel baseline) evaluated on every fold."""

    strategy: str  # a strategy name, or "pixels"
    label: str
    settings: dict[str, Any]  # the TrainConfig as a dict, or the baseline's settings
    folds: list[FoldResult]
    seconds: float  # wall time for all folds

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Per metric: mean, std, 95% CI over folds."""
        return {m: summarize_values([f.metrics.get(m, math.nan) for f in self.folds]) for m in METRICS}

    @property
    def trainable_params(self) -> int:
        """Trainable parameters (the most any fold trained; for the baseline, its coefficients)."""
        return max((f.trainable_params for f in self.folds), default=0)

    def values(self, metric: str) -> np.ndarray:
        """The metric on each fold, in fold order."""
        return np.asarray([f.metrics.get(metric, math.nan) for f in self.folds], dtype=np.float64)

    def to_dict(self, classes: Sequence[str]) -> dict[str, Any]:
        """JSON-ready block of a run record: per-fold metrics, per-class rows, confusions, histories, summary."""
        per_class = [dict(fold=f.fold, **row) for f in self.folds for row in f.metrics.get("per_class", [])]
        confusions = [f.metrics.get("confusion") or np.zeros((len(classes),) * 2, int).tolist() for f in self.folds]
        timings = {k: float(sum(f.timings.get(k, 0.0) for f in self.folds)) for k in ("features", "train", "test")}
        timings["total"] = self.seconds
        return {"strategy": self.strategy, "label": self.label, "settings": self.settings,
                "fold_metrics": [f.row() for f in self.folds], "per_class": per_class, "confusions": confusions,
                "confusion_sum": np.sum(np.asarray(confusions, dtype=np.int64), axis=0).tolist(),
                "histories": [f.history for f in self.folds], "summary": self.summary, "seconds": self.seconds,
                "trainable_params": self.trainable_params, "timings": timings}


def strategy_label(config: "TrainConfig") -> str:
    """A short human name for the strategy of ``config`` ("fine-tune last 2 groups", "from scratch", ...)."""
    name = config.strategy.name
    if name == "fine-tune":
        return f"fine-tune last {config.strategy.fine_tune_groups} groups"
    return STRATEGY_LABELS.get(name, name)


def oof_probs(result: StrategyResult, folds: Sequence[np.ndarray], n_images: int, n_classes: int) -> np.ndarray:
    """Out-of-fold probabilities: each image's row from the fold that held it out."""
    out = np.full((n_images, n_classes), np.nan, dtype=np.float32)
    for f, idx in zip(result.folds, folds):
        if len(f.probs) == len(idx):
            out[idx] = f.probs
    return out


# ---------------------------------------------------------------------------------------------------------------
# Running folds


def default_backbone_factory(config: "TrainConfig") -> "Backbone":
    """A fresh backbone for one fold; random initialisations are seeded so every fold starts from the same one."""
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.train.loop import wants_pretrained

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
        from tlcore.train.loop import wants_pretrained
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
              steps: Steps | None = None, what: str = "") -> StrategyResult:
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
    """
    from tlcore.train.loop import config_to_dict, train

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
        steps.finish(label)
        acc = result.test_metrics.get("accuracy", math.nan)
        on_event(Message(f"{label}: held-out accuracy {acc:.3f} on {len(held_out)} images"))
    return StrategyResult(config.strategy.name, strategy_label(config), config_to_dict(config), results,
                          time.perf_counter() - started)


@dataclass
class CVResult:
    """A k-fold cross-validation of one strategy."""

    dataset_id: str
    dataset_name: str
    classes: tuple[str, ...]
    config: "TrainConfig"
    folds: list[np.ndarray]
    result: StrategyResult

    @property
    def k(self) -> int:
        """Number of folds."""
        return len(self.folds)

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Per metric: mean, std and 95% CI over the folds."""
        return self.result.summary


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
    fold_list = check_folds(dataset, folds) if folds is not None else make_folds(dataset, k, config.seed)
    on_event(Message(f"{len(fold_list)}-fold cross-validation of {strategy_label(config)} on {dataset.name} "
                     f"({len(dataset.records)} images; fold sizes {', '.join(str(len(f)) for f in fold_list)})"))
    result = run_folds(ws, dataset, config, fold_list, on_event, cancel, backbone_factory)
    return CVResult(dataset.id, dataset.name, tuple(dataset.classes), config, fold_list, result)


# ---------------------------------------------------------------------------------------------------------------
# Records, tables, CSV


def base_record(kind: str, dataset_id: str, dataset_name: str, classes: Sequence[str], config: "TrainConfig",
                folds: Sequence[np.ndarray], label: str = "") -> dict[str, Any]:
    """The fields every cv/compare/curve record shares (id, kind, dataset, backbone, config, seed, folds)."""
    from tlcore.runs.store import library_versions, new_run_id
    from tlcore.train.loop import config_to_dict

    return {"id": new_run_id(), "created": time.time(), "kind": kind, "label": label, "dataset_id": dataset_id,
            "dataset_name": dataset_name, "classes": list(classes), "backbone": config.backbone,
            "config": config_to_dict(config), "seed": config.seed, "k": len(folds),
            "folds": [np.asarray(f).tolist() for f in folds], "versions": library_versions()}


def mean_metrics(block: dict[str, Any]) -> dict[str, Any]:
    """A strategy block's mean metrics in the shape of ``test_metrics`` (what the run index reads)."""
    out: dict[str, Any] = {m: block["summary"][m]["mean"] for m in METRICS}
    out["n"] = int(sum(r["n_test"] for r in block["fold_metrics"]))
    return out


def cv_record(result: CVResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a cross-validation (kind ``"cv"``)."""
    block = result.result.to_dict(result.classes)
    record = base_record("cv", result.dataset_id, result.dataset_name, result.classes, result.config, result.folds,
                         label)
    modes = [r["cache_mode"] for r in block["fold_metrics"]]
    record.update(strategy=result.config.strategy.name, result=block, test_metrics=mean_metrics(block),
                  timings=block["timings"], cache_mode=modes[0] if modes else "",
                  trainable_params=block["trainable_params"])
    return record


def fold_frame(block: dict[str, Any]):
    """The per-fold table of a strategy block (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(block["fold_metrics"])


def summary_frame(block: dict[str, Any]):
    """Mean, std and 95% CI per metric of a strategy block (a pandas DataFrame)."""
    import pandas as pd

    rows = [{"metric": m, **block["summary"][m]} for m in METRICS]
    return pd.DataFrame(rows, columns=["metric", "mean", "std", "ci_low", "ci_high", "ci_half_width", "n"])


def per_class_frame(block: dict[str, Any]):
    """Per-class precision/recall/F1/support on each fold (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(block["per_class"], columns=["fold", "class", "precision", "recall", "f1", "support"])


def cv_csv(record: dict[str, Any]) -> str:
    """The per-fold table of a cv record as CSV text, with mean/std/CI rows appended."""
    block = record["result"]
    frame = fold_frame(block)
    extra = []
    for stat in ("mean", "std", "ci_low", "ci_high"):
        extra.append({"fold": stat, **{m: block["summary"][m][stat] for m in METRICS}})
    import pandas as pd

    out = io.StringIO()
    pd.concat([frame, pd.DataFrame(extra)], ignore_index=True).to_csv(out, index=False)
    return out.getvalue()


def save_cv(ws: Workspace, result: CVResult, label: str = "") -> str:
    """Record a cross-validation in the run store (kind ``"cv"``, with ``folds.csv`` and ``oof_probs.npy``)."""
    from tlcore.runs.store import write_run

    record = cv_record(result, label)
    n, c = sum(len(f) for f in result.folds), len(result.classes)
    files = {"folds.csv": cv_csv(record).encode(), "oof_probs.npy": oof_probs(result.result, result.folds, n, c)}
    return write_run(ws, record, files)


def folds_from_record(record: dict[str, Any]) -> list[np.ndarray]:
    """The folds saved in a cv/compare/curve record."""
    if "folds" not in record:
        raise TlcoreError(f"run {record.get('id')} has no saved folds (it is a {record.get('kind', 'train')} run)")
    return [np.asarray(f, dtype=np.int64) for f in record["folds"]]


def summarize_record(record: dict[str, Any]) -> dict[str, Any]:
    """What ``--json`` prints for a cv record: ids, per-fold metrics, mean/std/CI per metric, timings."""
    block = record["result"]
    return {"run_id": record["id"], "kind": "cv", "dataset_id": record["dataset_id"], "backbone": record["backbone"],
            "strategy": record["strategy"], "k": record["k"], "seed": record["seed"],
            "fold_sizes": [len(f) for f in record["folds"]], "fold_metrics": block["fold_metrics"],
            "summary": block["summary"], "trainable_params": block["trainable_params"], "timings": block["timings"]}


# ---------------------------------------------------------------------------------------------------------------
# Job kind


def reused_folds(ws: Workspace, params: dict, dataset: Dataset, kind: str) -> list[np.ndarray] | None:
    """The folds of the run named by ``reuse_folds_from`` (same dataset required), or None."""
    from tlcore.runs.store import get_run

    run_id = params.get("reuse_folds_from")
    if not run_id:
        return None
    record = get_run(ws, str(run_id))
    if record.get("dataset_id") != dataset.id:
        raise TlcoreError(f"{kind}: run {run_id} was made on another dataset ({record.get('dataset_id')}), "
                          f"so its folds can't be reused on {dataset.id}")
    return check_folds(dataset, folds_from_record(record))


__all__ = [
    "CVResult", "FoldResult", "StrategyResult", "carve_validation", "check_folds", "cross_validate", "cv_csv",
    "cv_record", "folds_from_record", "make_folds", "run_folds", "save_cv", "subsample",
    "summarize_values", "training_part",
]
