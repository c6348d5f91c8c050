"""What :func:`tlcore.train.loop.train` returns: the trained model and everything measured on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.train.config import TrainConfig

if TYPE_CHECKING:
    from tlcore.data import Split
    from tlcore.models.factory import Backbone
    from tlcore.models.transfer import TransferModel

@dataclass
class TrainResult:
    """A trained model and everything measured on the way."""

    model: "TransferModel"
    backbone: "Backbone"
    config: TrainConfig
    dataset_id: str
    classes: tuple[str, ...]
    split: "Split"
    history: list[dict[str, Any]]
    val_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    test_probs: np.ndarray
    timings: dict[str, float]
    cache_mode: str  # features | prefix | aug-bank | none (what the frozen part's outputs came from)
    best_epoch: int
    stopped_early: bool
    trainable_params: int
    cache_bytes: int = 0
