"""The results of an evaluation: per fold, per strategy, and the cross-validation, comparison and curve around them.

Torch-free: plain dataclasses over numpy arrays. Records and CSV files are made from them in
:mod:`tlcore.evaluate.records`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from tlcore.evaluate.statistics import METRICS, summarize_values

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig


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


def oof_probs(result: StrategyResult, folds: Sequence[np.ndarray], n_images: int, n_classes: int) -> np.ndarray:
    """Out-of-fold probabilities: each image's row from the fold that held it out."""
    out = np.full((n_images, n_classes), np.nan, dtype=np.float32)
    for f, idx in zip(result.folds, folds):
        if len(f.probs) == len(idx):
            out[idx] = f.probs
    return out


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


@dataclass
class Evaluation:
    """What every cross-validation, comparison and curve shares: the dataset, the settings and the folds."""

    kind: ClassVar[str]  # the run record's kind: "cv", "compare" or "curve"

    dataset_id: str
    dataset_name: str
    classes: tuple[str, ...]
    config: "TrainConfig"
    folds: list[np.ndarray]

    @property
    def k(self) -> int:
        """Number of folds."""
        return len(self.folds)

    @property
    def n_images(self) -> int:
        """Images the folds cover (each in exactly one fold)."""
        return sum(len(f) for f in self.folds)


@dataclass
class CVResult(Evaluation):
    """A k-fold cross-validation of one strategy."""

    kind: ClassVar[str] = "cv"

    result: StrategyResult

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Per metric: mean, std and 95% CI over the folds."""
        return self.result.summary


@dataclass
class ComparisonResult(Evaluation):
    """Several strategies on the same folds, with the verdict."""

    kind: ClassVar[str] = "compare"

    results: list[StrategyResult]
    metric: str
    verdict: Verdict
    seconds: float


@dataclass
class CurveResult(Evaluation):
    """Metric against training-set size for several strategies, one row per (strategy, fraction, fold)."""

    kind: ClassVar[str] = "curve"

    fractions: list[float]
    metric: str
    rows: list[dict[str, Any]]
    seconds: dict[str, float]  # wall time per strategy
