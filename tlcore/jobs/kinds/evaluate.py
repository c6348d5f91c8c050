"""The job kinds ``cv``, ``compare`` and ``curve``: check the params, run the evaluation, record the run.

Builders: :class:`CVJob`, :class:`CompareJob`, :class:`CurveJob`. Light at import time, as the registry requires:
each kind imports the engine (:mod:`tlcore.evaluate`) when a worker runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.jobs.params import JobParams, check_keys, config_params, list_of, train_config, whole_number
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

_CV_KEYS = ("dataset_id", "config", "folds", "label", "reuse_folds_from")
_COMPARE_KEYS = (*_CV_KEYS, "strategies", "overrides", "metric")
_CURVE_KEYS = (*_COMPARE_KEYS, "fractions")


@dataclass(frozen=True)
class CVJob(JobParams):
    """Parameters of a ``cv`` job.

    Attributes:
        dataset_id: the imported dataset.
        config: the training settings of every fold.
        folds: k, from 2 to 50.
        label: the label of the recorded run.
        reuse_folds_from: the id of a run whose folds to reuse (same dataset), or None for fresh folds.
    """

    kind: ClassVar[str] = "cv"

    dataset_id: str
    config: TrainConfig
    folds: int = 5
    label: str = ""
    reuse_folds_from: str | None = None

    def to_params(self) -> dict[str, Any]:
        """``{"dataset_id", "config", "folds"}`` plus ``label`` and ``reuse_folds_from`` when given."""
        params: dict[str, Any] = {"dataset_id": self.dataset_id, "config": config_params(self.config),
                                  "folds": self.folds}
        return params | self._optional()

    def _optional(self) -> dict[str, Any]:
        return ({"label": self.label} if self.label else {}) | (
            {"reuse_folds_from": self.reuse_folds_from} if self.reuse_folds_from else {})

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CVJob:
        """The checked parameters of a ``cv`` params dict."""
        check_keys(params, _CV_KEYS, "cv")
        return cls(**_common(params, "cv"))


@dataclass(frozen=True)
class CompareJob(CVJob):
    """Parameters of a ``compare`` job: a :class:`CVJob` for several strategies on the same folds.

    Attributes:
        strategies: the strategy names (and "pixels", the raw-pixel baseline); None for the default set.
        metric: what "best" means (accuracy, balanced_accuracy, macro_f1, log_loss).
        overrides: per-strategy setting changes, e.g. ``{"scratch": {"epochs": 5}}``.
    """

    kind: ClassVar[str] = "compare"

    strategies: tuple[str, ...] | None = None
    metric: str = "accuracy"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_params(self) -> dict[str, Any]:
        """The ``cv`` params plus ``strategies`` (when given), ``metric`` and ``overrides``."""
        params: dict[str, Any] = {"dataset_id": self.dataset_id, "config": config_params(self.config),
                                  "folds": self.folds}
        if self.strategies is not None:
            params["strategies"] = list(self.strategies)
        params.update(metric=self.metric, overrides=self.overrides)
        return params | self._optional()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CompareJob:
        """The checked parameters of a ``compare`` params dict (the default strategies filled in)."""
        check_keys(params, _COMPARE_KEYS, cls.kind)
        return cls(**_common(params, cls.kind), **_comparison(params, cls.kind))


@dataclass(frozen=True)
class CurveJob(CompareJob):
    """Parameters of a ``curve`` job: a :class:`CompareJob` repeated on growing shares of the training data.

    Attributes:
        fractions: the shares of each fold's training part; None for the default ones.
    """

    kind: ClassVar[str] = "curve"

    fractions: tuple[float, ...] | None = None

    def to_params(self) -> dict[str, Any]:
        """The ``compare`` params plus ``fractions`` when given."""
        params = super().to_params()
        if self.fractions is not None:
            params["fractions"] = list(self.fractions)
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CurveJob:
        """The checked parameters of a ``curve`` params dict (the default strategies and fractions filled in)."""
        from tlcore.evaluate.curve import DEFAULT_FRACTIONS

        check_keys(params, _CURVE_KEYS, "curve")
        common, comparison = _common(params, "curve"), _comparison(params, "curve")
        fractions = list_of(params, "fractions", DEFAULT_FRACTIONS, (int, float), "curve", "a list of numbers")
        return cls(**common, **comparison, fractions=tuple(fractions))


def _common(params: dict, who: str) -> dict[str, Any]:
    reuse = params.get("reuse_folds_from")
    return {"dataset_id": str(params.get("dataset_id") or ""), "config": train_config(params, who),
            "folds": whole_number(params, "folds", 5, 2, 50, who), "label": str(params.get("label", "")),
            "reuse_folds_from": str(reuse) if reuse else None}


def _comparison(params: dict, who: str) -> dict[str, Any]:
    from tlcore.evaluate.choices import PIXELS, check_strategies

    names = list_of(params, "strategies", ("feature-extraction", "scratch", PIXELS), str, who,
                    "a list of strategy names")
    overrides = params.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise TlcoreError(f"{who}: setting 'overrides' must map strategy names to settings, got {overrides!r}")
    return {"strategies": tuple(check_strategies(names)), "metric": str(params.get("metric", "accuracy")),
            "overrides": overrides}


def cv_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"cv"``: cross-validate and record the run (params: see :class:`CVJob`).

    Returns the run id and the mean ± CI of each metric.
    """
    from tlcore.data.dataset import load_dataset
    from tlcore.evaluate.cv import cross_validate
    from tlcore.evaluate.records import reused_folds, save_evaluation

    job = CVJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = cross_validate(ws, dataset, job.config, job.folds, on_event, cancel,
                            folds=reused_folds(ws, params, dataset, "cv"))
    run_id = save_evaluation(ws, result, job.label)
    return {"run_id": run_id, "k": result.k, "summary": result.summary, "seconds": result.result.seconds}


def compare_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"compare"`` (params: see :class:`CompareJob`). Returns the run id and the verdict."""
    from tlcore.data.dataset import load_dataset
    from tlcore.evaluate.compare import compare_strategies
    from tlcore.evaluate.records import reused_folds, save_evaluation

    job = CompareJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = compare_strategies(ws, dataset, job.config, job.strategies, job.folds, job.metric, on_event, cancel,
                                folds=reused_folds(ws, params, dataset, "compare"), overrides=job.overrides)
    run_id = save_evaluation(ws, result, job.label)
    return {"run_id": run_id, "best": result.verdict.best, "verdict": result.verdict.text, "seconds": result.seconds}


def curve_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"curve"`` (params: see :class:`CurveJob`). Returns the run id and the number of points."""
    from tlcore.data.dataset import load_dataset
    from tlcore.evaluate.curve import curve_points, data_efficiency_curve
    from tlcore.evaluate.records import reused_folds, save_evaluation

    job = CurveJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = data_efficiency_curve(
        ws, dataset, job.config, job.strategies, job.fractions, job.folds, job.metric, on_event, cancel,
        folds=reused_folds(ws, params, dataset, "curve"), overrides=job.overrides)
    run_id = save_evaluation(ws, result, job.label)
    return {"run_id": run_id, "points": len(curve_points(result.rows, result.metric)),
            "seconds": float(sum(result.seconds.values()))}


CV = register_kind(JobKind("cv", cv_task, CVJob))
COMPARE = register_kind(JobKind("compare", compare_task, CompareJob))
CURVE = register_kind(JobKind("curve", curve_task, CurveJob))
