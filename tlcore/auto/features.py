"""Pooled features (or raw pixels) of stored images for the auto recipe's scikit-learn fits, through the shared
frozen-part cache: the rows a training of the same backbone, size and preprocessing reads, so no image passes
through a backbone twice, whichever of them asks first."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from tlcore.data.augment import NO_AUGMENT
from tlcore.events import CancelToken, EventCallback
from tlcore.train.caches import CacheKey, cached_count
from tlcore.train.config import TrainConfig
from tlcore.train.inputs import InputPipeline
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset
    from tlcore.models.factory import Backbone


def feature_config(base: TrainConfig, backbone: str) -> TrainConfig:
    """The settings whose cache entry a feature fit on ``backbone`` shares: no augmentation, the base's image size
    (the pixel model always uses its own), the base's weights file only for the base's own backbone."""
    from tlcore.models.registry import PIXELS_BACKBONE

    return replace(base, backbone=backbone, augment=NO_AUGMENT,
                   image_size=None if backbone == PIXELS_BACKBONE else base.image_size,
                   weights_file=base.weights_file if backbone == base.backbone else None)


def _pipeline(ws: Workspace, dataset: "Dataset", backbone: "Backbone", config: TrainConfig,
              on_event: EventCallback, cancel: CancelToken) -> InputPipeline:
    from tlcore.data import Split

    empty = np.zeros(0, dtype=np.int64)
    split = Split(train=empty, val=empty, test=empty, seed=config.seed, val_fraction=0.0, test_fraction=0.0)
    return InputPipeline(ws, dataset, split, None, backbone, config, on_event, cancel)  # type: ignore[arg-type]


def pooled_features(ws: Workspace, dataset: "Dataset", backbone: "Backbone", config: TrainConfig,
                    indices: np.ndarray, on_event: EventCallback, cancel: CancelToken) -> np.ndarray:
    """The whole (frozen) backbone's outputs for the records ``indices``, float32 ``(len(indices), features)``."""
    pipeline = _pipeline(ws, dataset, backbone, config, on_event, cancel)
    rows, positions, _ = pipeline.frozen_rows(backbone.model, "pooled", np.asarray(indices, dtype=np.int64))
    return np.asarray(rows[positions], dtype=np.float32)


def uncached_images(ws: Workspace, dataset: "Dataset", backbone: "Backbone", config: TrainConfig,
                    indices: np.ndarray, boundary: str = "pooled") -> int:
    """How many distinct images of ``indices`` have no cached row yet at ``boundary`` (what a pass would cost)."""
    key: CacheKey = _pipeline(ws, dataset, backbone, config, lambda e: None, CancelToken())._key(boundary)
    hashes = list(dict.fromkeys(dataset.hashes[int(i)] for i in indices))
    return len(hashes) - cached_count(ws, key, hashes)
