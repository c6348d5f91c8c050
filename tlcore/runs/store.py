"""Training runs saved and rebuilt: the model's weights with the record, and the model ready to predict again.

:func:`save_run` writes a run folder through :func:`tlcore.runs.records.write_run` (``run.json``,
``model.safetensors`` with its JSON metadata, ``test_probs.npy``); :func:`load_run` rebuilds the model in eval
mode so that it reproduces the recorded test predictions exactly. Every file read back is checked first (hash,
metadata, tensor shapes, split range; :mod:`tlcore.runs.checks`) and a problem raises
:class:`~tlcore.runs.checks.RunDamaged`. Torch is imported only by these two functions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.errors import TlcoreError
from tlcore.runs.checks import RunDamaged, check_metadata, check_split_fits_dataset, damaged
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
    """A saved run rebuilt: the model ready to predict, and everything recorded with it.

    The recorded test probabilities (``test_probs.npy``) are read only when :attr:`test_probs` is first used
    (evaluate, explain's test picks): predicting new images never needs that file.
    """

    id: str
    model: "TransferModel"
    classes: tuple[str, ...]
    data_config: "DataConfig"
    image_size: int
    config: "TrainConfig"
    record: dict[str, Any]
    split: "Split"
    folder: Path | None = None  # the run's folder, where test_probs.npy is read from

    @property
    def dataset_id(self) -> str:
        """The id of the dataset the run was trained on."""
        return self.record["dataset_id"]

    @cached_property
    def test_probs(self) -> np.ndarray:
        """The recorded test-split probabilities, ``(len(split.test), len(classes))`` float32, read on first use.

        Raises:
            RunDamaged: the file is missing, truncated, not a plain numeric array (never unpickled), of the wrong
                shape, or holds values that are not probabilities.
        """
        if self.folder is None:
            raise damaged(self.id, f"{PROBS_FILE} was not recorded")
        return read_test_probs(self.folder / PROBS_FILE, self.id, (len(self.split.test), len(self.classes)))


def read_test_probs(path: Path, run_id: str, shape: tuple[int, int]) -> np.ndarray:
    """A run's recorded test probabilities, checked; see :attr:`LoadedRun.test_probs`."""
    name = path.name
    try:
        probs = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise damaged(run_id, f"{name} is missing ({path})") from None
    except (OSError, ValueError, EOFError) as e:  # truncated, not .npy, or an object array (pickle refused)
        raise damaged(run_id, f"{name} is not a readable numeric array ({e}); {path}") from None
    if not isinstance(probs, np.ndarray) or probs.dtype.kind != "f":
        raise damaged(run_id, f"{name} does not hold probabilities (dtype {getattr(probs, 'dtype', '?')}); {path}")
    if probs.shape != shape:
        raise damaged(run_id, f"{name} has shape {list(probs.shape)}; the run's test split and classes need "
                              f"{list(shape)} ({path})")
    if not np.isfinite(probs).all() or (probs.size and (probs.min() < 0 or probs.max() > 1)):
        raise damaged(run_id, f"{name} holds values that are not probabilities (NaN, infinite or outside 0..1)")
    return probs.astype(np.float32, copy=False)


def save_run(ws: Workspace, result: "TrainResult", dataset: "Dataset", label: str = "",
             extra: dict[str, Any] | None = None) -> str:
    """Record a finished training run; return its id.

    ``extra`` adds to (or overrides) the record's fields: the auto recipe records ``strategy: "auto"`` and its
    leaderboard under ``auto``. The record holds the sha256 of the weights file (``weights_sha256``, verified by :func:`load_run`) and the size
    of the dataset (``n_images``, the range of the split's indices).
    """
    from tlcore.models.weights import sha256_hex, weights_bytes
    from tlcore.train.config import config_to_dict

    run_id = new_run_id()
    cfg = result.config
    backbone = result.backbone
    model_meta = {"architecture": backbone.name, "num_classes": len(result.classes), "head": cfg.strategy.head,
                  "hidden": cfg.strategy.hidden, "dropout": cfg.strategy.dropout, "classes": list(result.classes),
                  "image_size": cfg.image_size or backbone.data_config.input_size,
                  "data_config": asdict(backbone.data_config), "tta": getattr(result.model, "tta", "none")}
    state = {k: v.detach().contiguous() for k, v in result.model.state_dict().items()}
    weights = weights_bytes(state, model_meta)
    record = {
        "id": run_id, "created": time.time(), "kind": "train", "label": label,
        "dataset_id": dataset.id, "dataset_name": dataset.name, "classes": list(result.classes),
        "backbone": backbone.name, "weights_source": backbone.weights_source, "pretrained": backbone.pretrained,
        "strategy": cfg.strategy.name, "config": config_to_dict(cfg), "seed": cfg.seed,
        "split": {"train": result.split.train.tolist(), "val": result.split.val.tolist(),
                  "test": result.split.test.tolist()}, "n_images": len(dataset),
        "history": result.history, "val_metrics": result.val_metrics, "test_metrics": result.test_metrics,
        "timings": result.timings, "cache_mode": result.cache_mode, "cache_bytes": result.cache_bytes,
        "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "trainable_params": result.trainable_params, "augmentation": cfg.augment.describe(),
        "tta": model_meta["tta"],
        "model": model_meta, "weights_sha256": sha256_hex(weights), "versions": library_versions(),
    }
    record.update(extra or {})
    files = {WEIGHTS_FILE: weights, PROBS_FILE: np.asarray(result.test_probs, dtype=np.float32)}
    return write_run(ws, record, files)


def load_run(ws: Workspace, run_id: str) -> LoadedRun:
    """Rebuild a saved run's model (eval mode) with its classes, preprocessing and split.

    Everything read is checked first: the record (:func:`tlcore.runs.records.get_run`), the weights file against
    the sha256 in the record, the metadata's fields, every tensor's name and shape against the model the metadata
    describes (before ``load_state_dict``), and the split against the dataset when it can be read.

    Raises:
        RunNotFound: no such run.
        RunDamaged: anything above is missing, corrupt or inconsistent; the message names the run, the file and
            the problem.
    """
    import torch

    from tlcore.data import Split
    from tlcore.data.preprocess import DataConfig
    from tlcore.models.factory import create_backbone
    from tlcore.models.transfer import TransferModel
    from tlcore.models.weights import check_fits, file_sha256, load_weights, validate_architecture
    from tlcore.train.config import config_from_dict

    record = get_run(ws, run_id)
    folder = run_dir(ws, run_id)
    path = folder / WEIGHTS_FILE
    try:
        recorded = record.get("weights_sha256")
        if recorded is not None and file_sha256(path) != recorded:
            raise damaged(run_id, f"{WEIGHTS_FILE} does not match the sha256 recorded in run.json: its bytes "
                                  f"changed since the run was saved ({path})")
        state, meta = load_weights(path)
        meta = check_metadata(meta, record, run_id)
        validate_architecture(meta["architecture"])
        backbone = create_backbone(meta["architecture"], pretrained=False)
        model = TransferModel(backbone, meta["num_classes"], head=meta["head"], hidden=meta["hidden"],
                              dropout=meta["dropout"])
        check_fits(state, model.state_dict(), WEIGHTS_FILE)
    except RunDamaged:
        raise
    except TlcoreError as e:
        raise damaged(run_id, str(e)) from None
    model.load_state_dict(state, strict=True)
    model.tta = meta.get("tta", "none")
    model = model.to(memory_format=torch.channels_last).eval()
    dc = meta["data_config"]
    data_config = DataConfig(input_size=dc["input_size"], mean=tuple(dc["mean"]), std=tuple(dc["std"]),
                             interpolation=dc["interpolation"], crop_pct=float(dc["crop_pct"]))
    sp = record["split"]
    try:
        cfg = config_from_dict(record["config"])
        split = Split(train=np.asarray(sp["train"], dtype=np.int64), val=np.asarray(sp["val"], dtype=np.int64),
                      test=np.asarray(sp["test"], dtype=np.int64), seed=int(cfg.seed),
                      val_fraction=float(cfg.val_fraction), test_fraction=float(cfg.test_fraction))
    except (TlcoreError, TypeError, ValueError) as e:
        raise damaged(run_id, f"run.json 'config' cannot be read ({e})") from None
    check_split_fits_dataset(ws, record, run_id)
    return LoadedRun(id=run_id, model=model, classes=tuple(meta["classes"]), data_config=data_config,
                     image_size=meta["image_size"], config=cfg, record=record, split=split, folder=folder)
