"""The job kinds ``cv``, ``compare`` and ``curve``: check the params, run the evaluation, record the run.

Kept light (nothing heavy at import time, as the job registry requires): each kind imports the engine when a
worker runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.loop import TrainConfig


def config_setting(params: dict, kind: str) -> "TrainConfig":
    """The ``config`` param of a job as a TrainConfig (unknown or bad settings named)."""
    from tlcore.train.loop import config_from_dict

    raw = params.get("config") or {}
    if not isinstance(raw, dict):
        raise TlcoreError(f"{kind}: setting 'config' must be a dict of training settings, got {raw!r}")
    try:
        return config_from_dict(raw)
    except (TypeError, ValueError) as e:
        raise TlcoreError(f"{kind}: setting 'config' is invalid: {e}") from e


def int_setting(params: dict, name: str, default: int, low: int, high: int, kind: str) -> int:
    """A whole-number job setting within [low, high]."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TlcoreError(f"{kind}: setting '{name}' must be a whole number from {low} to {high}, got {value!r}")
    return value


def cv_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"cv"``: cross-validate and record the run.

    Params: ``dataset_id``; ``config`` (TrainConfig as a dict); ``folds`` (k, default 5); optional ``label`` and
    ``reuse_folds_from`` (a run id). Returns the run id and the mean ± CI of each metric.
    """
    from tlcore.data import load_dataset
    from tlcore.evaluate.cv import cross_validate, reused_folds, save_cv

    unknown = sorted(set(params) - {"dataset_id", "config", "folds", "label", "reuse_folds_from"})
    if unknown:
        raise TlcoreError(f"cv: unknown setting(s) {', '.join(unknown)}")
    dataset = load_dataset(ws, str(params.get("dataset_id") or ""))
    config = config_setting(params, "cv")
    k = int_setting(params, "folds", 5, 2, 50, "cv")
    result = cross_validate(ws, dataset, config, k, on_event, cancel, folds=reused_folds(ws, params, dataset, "cv"))
    run_id = save_cv(ws, result, str(params.get("label", "")))
    return {"run_id": run_id, "k": result.k, "summary": result.summary, "seconds": result.result.seconds}


def _names(params: dict, kind: str, default: Sequence[str]) -> list[str]:
    from tlcore.evaluate.compare import check_strategies

    value = params.get("strategies", list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TlcoreError(f"{kind}: setting 'strategies' must be a list of strategy names, got {value!r}")
    return check_strategies(value)


def _overrides(params: dict, kind: str) -> dict[str, dict[str, Any]]:
    value = params.get("overrides") or {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise TlcoreError(f"{kind}: setting 'overrides' must map strategy names to settings, got {value!r}")
    return value


def _check_keys(params: dict, kind: str, known: set[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise TlcoreError(f"{kind}: unknown setting(s) {', '.join(unknown)}")


_COMMON = {"dataset_id", "config", "folds", "label", "reuse_folds_from", "strategies", "overrides", "metric"}


def compare_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"compare"``: params ``dataset_id``, ``config``, ``strategies`` (list), ``folds`` (k), optional
    ``overrides``, ``metric``, ``label``, ``reuse_folds_from``. Returns the run id and the verdict."""
    from tlcore.data import load_dataset
    from tlcore.evaluate.compare import compare_strategies, save_comparison
    from tlcore.evaluate.cv import PIXELS, reused_folds

    _check_keys(params, "compare", _COMMON)
    dataset = load_dataset(ws, str(params.get("dataset_id") or ""))
    config = config_setting(params, "compare")
    result = compare_strategies(
        ws, dataset, config, _names(params, "compare", ("feature-extraction", "scratch", PIXELS)),
        int_setting(params, "folds", 5, 2, 50, "compare"), str(params.get("metric", "accuracy")), on_event, cancel,
        folds=reused_folds(ws, params, dataset, "compare"), overrides=_overrides(params, "compare"))
    run_id = save_comparison(ws, result, str(params.get("label", "")))
    return {"run_id": run_id, "best": result.verdict.best, "verdict": result.verdict.text, "seconds": result.seconds}


def curve_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Job kind ``"curve"``: like ``"compare"`` plus ``fractions`` (list). Returns the run id."""
    from tlcore.data import load_dataset
    from tlcore.evaluate.compare import DEFAULT_FRACTIONS, curve_points, data_efficiency_curve, save_curve
    from tlcore.evaluate.cv import PIXELS, reused_folds

    _check_keys(params, "curve", _COMMON | {"fractions"})
    dataset = load_dataset(ws, str(params.get("dataset_id") or ""))
    config = config_setting(params, "curve")
    fractions = params.get("fractions", list(DEFAULT_FRACTIONS))
    if not isinstance(fractions, list) or not all(isinstance(f, (int, float)) for f in fractions):
        raise TlcoreError(f"curve: setting 'fractions' must be a list of numbers, got {fractions!r}")
    result = data_efficiency_curve(
        ws, dataset, config, _names(params, "curve", ("feature-extraction", "scratch", PIXELS)), fractions,
        int_setting(params, "folds", 5, 2, 50, "curve"), str(params.get("metric", "accuracy")), on_event, cancel,
        folds=reused_folds(ws, params, dataset, "curve"), overrides=_overrides(params, "curve"))
    run_id = save_curve(ws, result, str(params.get("label", "")))
    return {"run_id": run_id, "points": len(curve_points(result.rows, result.metric)),
            "seconds": float(sum(result.seconds.values()))}
