"""The contenders of a comparison or curve: one strategy's settings with its overrides, evaluated on shared folds.

A training strategy runs through :func:`tlcore.evaluate.cv.run_folds`; the raw-pixel baseline through
:func:`tlcore.evaluate.baseline.pixel_baseline`, on the same folds with the same seeds.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from tlcore.data import Dataset
from tlcore.errors import TlcoreError
from tlcore.evaluate.baseline import pixel_baseline
from tlcore.evaluate.choices import PIXELS
from tlcore.evaluate.cv import BackboneFactory, Steps, run_folds
from tlcore.evaluate.results import StrategyResult
from tlcore.events import CancelToken, EventCallback
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

Overrides = Mapping[str, Mapping[str, Any]]


def strategy_config(config: "TrainConfig", name: str, overrides: Overrides | None = None) -> "TrainConfig":
    """``config`` with strategy ``name`` and that strategy's overrides (``{"scratch": {"epochs": 5}}``)."""
    from tlcore.train.config import TrainConfig, with_overrides

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


def check_contenders(config: "TrainConfig", names: Sequence[str], overrides: Overrides | None = None) -> None:
    """Refuse bad settings for any of the strategies ``names`` before anything runs (the pixel baseline has none)."""
    for name in names:
        if name != PIXELS:
            strategy_config(config, name, overrides)


def evaluate_contender(ws: Workspace, dataset: Dataset, config: "TrainConfig", name: str,
                       folds: Sequence[np.ndarray], on_event: EventCallback, cancel: CancelToken | None,
                       steps: Steps, overrides: Overrides | None, backbone_factory: BackboneFactory | None,
                       fraction: float = 1.0, pixels: np.ndarray | None = None) -> StrategyResult:
    """Evaluate strategy ``name`` (or the pixel baseline) on ``folds``, training on ``fraction`` of each fold's part.

    Args:
        pixels: a precomputed :func:`tlcore.evaluate.baseline.pixel_matrix` for the baseline (the curve shares one).
    """
    what = name if fraction >= 1 else f"{name} at {fraction:.0%}"
    if name == PIXELS:
        return pixel_baseline(ws, dataset, folds, config.seed, fraction, on_event, cancel, steps, pixels)
    return run_folds(ws, dataset, strategy_config(config, name, overrides), folds, on_event, cancel,
                     backbone_factory, fraction, steps, what)
