"""Training runs saved and rebuilt: the model's weights with the record, and the model ready to predict again.

:func:`save_run` writes a run folder through :func:`tlcore.runs.records.write_run` (``run.json``,
``model.safetensors`` with its JSON metadata, ``test_probs.npy``); :func:`load_run` rebuilds the model in eval
mode so that it reproduces the recorded test predictions exactly. Torch is imported only by these two functions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.runs.records import PROBS_FILE, WEIGHTS_FILE, get_run, library_versions, new_run_id, run_dir, write_run
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset, Split
    from tlcore.data.preprocess import DataConfig
    from tlcore.models.transfer import TransferModel
    from tlcore.train.config import TrainConfig
    from tlcore.train.results import TrainResult


@dataclass
class LoadedRun:
    """A saved run rebuilt: the model ready to predict, and everything recorded with it."""

    id: str
    model: "TransferModel"
    classes: tuple[str, ...]
    data_config: "DataConfig"
    image_size: int
    config: "TrainConfig"
    record: dict[str, Any]
    split: "Split"
    test_probs: np.ndarray

    @property
    def dataset_id(self) -> str:
        """The id of the dataset the run was trained on."""
        return self.record["dataset_id"]


def save_run(ws: Workspace, result: "TrainResult", dataset: "Dataset", label: str = "") -> str:
    """Record a finished training run; return its id."""
    from tlcore.models.weights import save_weights
    from tlcore.train.config import config_to_dict

    run_id = new_run_id()
    cfg = result.config
    backbone = result.backbone
    model_meta = {"architecture": backbone.name, "num_classes": len(result.classes), "head": cfg.strategy.head,
                  "hidden": cfg.strategy.hidden, "dropout": cfg.strategy.dropout, "classes": list(result.classes),
                  "image_size": cfg.image_size or backbone.data_config.input_size,
                  "data_config": asdict(backbone.data_config)}
    record = {
        "id": run_id, "created": time.time(), "kind": "train", "label": label,
        "dataset_id": dataset.id, "dataset_name": dataset.name, "classes": list(result.classes),
        "backbone": backbone.name, "weights_source": backbone.weights_source, "pretrained": backbone.pretrained,
        "strategy": cfg.strategy.name, "config": config_to_dict(cfg), "seed": cfg.seed,
        "split": {"train": result.split.train.tolist(), "val": result.split.val.tolist(),
                  "test": result.split.test.tolist()},
        "history": result.history, "val_metrics": result.val_metrics, "test_metrics": result.test_metrics,
        "timings": result.timings, "cache_mode": result.cache_mode, "cache_bytes": result.cache_bytes,
        "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "trainable_params": result.trainable_params, "augmentation": cfg.augment.describe(),
        "model": model_meta, "versions": library_versions(),
    }
    state = {k: v.detach().contiguous() for k, v in result.model.state_dict().items()}
    files = {WEIGHTS_FILE: lambda path: save_weights(path, state, model_meta),
             PROBS_FILE: np.asarray(result.test_probs, dtype=np.float32)}
    return write_run(ws, record, files)


def load_run(ws: Workspace, run_id: str) -> LoadedRun:
    """Rebuild a saved run's model (eval mode) with its classes, preprocessing, split and test probabilities."""
    import torch

    from tlcore.data import Split
    from tlcore.data.preprocess import DataConfig
    from tlcore.models.factory import create_backbone
    from tlcore.models.transfer import TransferModel
    from tlcore.models.weights import load_weights, validate_architecture
    from tlcore.train.config import config_from_dict

    record = get_run(ws, run_id)
    folder = run_dir(ws, run_id)
    state, meta = load_weights(folder / WEIGHTS_FILE)
    validate_architecture(meta["architecture"])
    backbone = create_backbone(meta["architecture"], pretrained=False)
    model = TransferModel(backbone, int(meta["num_classes"]), head=meta["head"], hidden=int(meta["hidden"]),
                          dropout=float(meta["dropout"]))
    model.load_state_dict(state, strict=True)
    model = model.to(memory_format=torch.channels_last).eval()
    dc = meta["data_config"]
    data_config = DataConfig(input_size=int(dc["input_size"]), mean=tuple(dc["mean"]), std=tuple(dc["std"]),
                             interpolation=dc["interpolation"], crop_pct=float(dc["crop_pct"]))
    sp = record["split"]
    cfg = config_from_dict(record["config"])
    split = Split(train=np.asarray(sp["train"], dtype=np.int64), val=np.asarray(sp["val"], dtype=np.int64),
                  test=np.asarray(sp["test"], dtype=np.int64), seed=cfg.seed, val_fraction=cfg.val_fraction,
                  test_fraction=cfg.test_fraction)
    probs = np.load(folder / PROBS_FILE)
    return LoadedRun(id=run_id, model=model, classes=tuple(meta["classes"]), data_config=data_config,
                     image_size=int(meta["image_size"]), config=cfg, record=record, split=split, test_probs=probs)
