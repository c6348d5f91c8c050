"""The run store: every run recorded in its own folder, listed by an SQLite index.

A run folder ``ws.runs/<run_id>/`` holds ``run.json`` (config, dataset id, classes, split indices, seed, library
versions, per-epoch history, metrics, timings, backbone), ``model.safetensors`` (weights + JSON metadata) and
``test_probs.npy``. It is written whole in ``ws.tmp`` and renamed into place, then indexed: a crash never leaves a
half-written run that looks complete. The index is rebuilt from the folders whenever they disagree.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from tlcore.atomic import atomic_write_json, read_json
from tlcore.errors import RunNotFound, TlcoreError
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset, Split
    from tlcore.data.preprocess import DataConfig
    from tlcore.models.transfer import TransferModel
    from tlcore.train.loop import TrainConfig, TrainResult

log = logging.getLogger(__name__)

RUN_FILE, WEIGHTS_FILE, PROBS_FILE = "run.json", "model.safetensors", "test_probs.npy"
_COLUMNS = ("id", "created", "kind", "label", "dataset_id", "dataset_name", "backbone", "strategy", "test_accuracy",
            "test_balanced_accuracy", "test_macro_f1", "val_accuracy", "seconds", "epochs", "cache_mode")
_SCHEMA = f"CREATE TABLE IF NOT EXISTS runs ({', '.join(c + (' TEXT PRIMARY KEY' if c == 'id' else '') for c in _COLUMNS)})"


@dataclass(frozen=True)
class RunInfo:
    """One row of the run index: what a table of runs shows."""

    id: str
    created: float
    kind: str  # "train"; cross-validation and comparisons record their own kinds
    label: str
    dataset_id: str
    dataset_name: str
    backbone: str
    strategy: str
    test_accuracy: float | None
    test_balanced_accuracy: float | None
    test_macro_f1: float | None
    val_accuracy: float | None
    seconds: float
    epochs: int
    cache_mode: str


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


def new_run_id() -> str:
    """A sortable, unique run id such as ``20261122-081503-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "timm", "numpy", "scikit-learn", "pillow", "captum"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    from tlcore import __version__

    versions["tlcore"] = __version__
    return versions


def _connect(ws: Workspace) -> sqlite3.Connection:
    con = sqlite3.connect(ws.index_db, timeout=30)
    con.execute(_SCHEMA)
    return con


def _row(record: dict[str, Any]) -> tuple:
    test, val = record.get("test_metrics") or {}, record.get("val_metrics") or {}
    return (record["id"], record["created"], record.get("kind", "train"), record.get("label", ""),
            record["dataset_id"], record.get("dataset_name", ""), record.get("backbone", ""),
            record.get("strategy", ""), test.get("accuracy"), test.get("balanced_accuracy"), test.get("macro_f1"),
            val.get("accuracy"), record.get("timings", {}).get("total", 0.0), len(record.get("history", [])),
            record.get("cache_mode", ""))


def write_run(ws: Workspace, record: dict[str, Any], files: dict[str, Any] | None = None) -> str:
    """Atomically create a run folder from ``record`` (must hold ``id``) plus extra files, and index it.

    Args:
        ws: the workspace.
        record: the JSON record; ``id``, ``created``, ``dataset_id`` are required.
        files: name -> ``bytes`` | numpy array (saved as .npy) | callable(path) that writes the file.
    """
    run_id = record["id"]
    final = ws.runs / run_id
    if final.exists():
        raise TlcoreError(f"run {run_id} already exists")
    tmp = ws.tmp / f"run-{run_id}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True)
    try:
        for name, content in (files or {}).items():
            path = tmp / name
            if callable(content):
                content(path)
            elif isinstance(content, np.ndarray):
                np.save(path, content)
            else:
                path.write_bytes(content)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        atomic_write_json(tmp / RUN_FILE, record)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with closing(_connect(ws)) as con, con:
        con.execute(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(_COLUMNS))})", _row(record))
    return run_id


def save_run(ws: Workspace, result: "TrainResult", dataset: "Dataset", label: str = "") -> str:
    """Record a finished training run; return its id."""
    from tlcore.models.weights import save_weights
    from tlcore.train.loop import config_to_dict

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


def get_run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The JSON record of a run (no model loaded)."""
    path = _run_dir(ws, run_id) / RUN_FILE
    try:
        return read_json(path)
    except FileNotFoundError:
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}") from None


def _run_dir(ws: Workspace, run_id: str) -> Path:
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise RunNotFound(f"{run_id!r} is not a run id")
    return ws.runs / run_id


def load_run(ws: Workspace, run_id: str) -> LoadedRun:
    """Rebuild a saved run's model (eval mode) with its classes, preprocessing, split and test probabilities."""
    import torch

    from tlcore.data import Split
    from tlcore.data.preprocess import DataConfig
    from tlcore.models.backbones import create_backbone
    from tlcore.models.transfer import TransferModel
    from tlcore.models.weights import load_weights, validate_architecture
    from tlcore.train.loop import config_from_dict

    record = get_run(ws, run_id)
    folder = _run_dir(ws, run_id)
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


def reconcile(ws: Workspace) -> None:
    """Make the index match the run folders, and remove temp folders whose writer process is gone."""
    for tmp in [*ws.tmp.glob("run-*.tmp"), *ws.tmp.glob("deleted-*.tmp")]:
        pid = tmp.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)
    on_disk = {p.name for p in ws.runs.iterdir() if (p / RUN_FILE).is_file()}
    with closing(_connect(ws)) as con, con:
        indexed = {r[0] for r in con.execute("SELECT id FROM runs")}
        for run_id in indexed - on_disk:
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        for run_id in sorted(on_disk - indexed):
            try:
                con.execute(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(_COLUMNS))})",
                            _row(read_json(ws.runs / run_id / RUN_FILE)))
            except (ValueError, KeyError) as exc:
                log.warning("run folder %s is unreadable and left out of the index: %s", run_id, exc)


def _alive(pid: int) -> bool:
    """True if process ``pid`` may still write: it exists and is not a zombie (a dead writer not yet reaped)."""
    if Path("/proc/self/stat").is_file():  # Linux: a zombie still answers kill(pid, 0)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X", "x")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(ws: Workspace, dataset_id: str | None = None, backbone: str | None = None,
              strategy: str | None = None, kind: str | None = None) -> list[RunInfo]:
    """Runs in the workspace, newest first, optionally filtered."""
    reconcile(ws)
    where, args = [], []
    for column, value in (("dataset_id", dataset_id), ("backbone", backbone), ("strategy", strategy),
                          ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
    with closing(_connect(ws)) as con:
        rows = con.execute(sql + " ORDER BY created DESC, id DESC", args).fetchall()
    return [RunInfo(*r) for r in rows]


def delete_run(ws: Workspace, run_id: str) -> None:
    """Remove a run's folder and its index row."""
    folder = _run_dir(ws, run_id)
    if not folder.exists():
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    trash = ws.tmp / f"deleted-{run_id}.{os.getpid()}.tmp"
    os.rename(folder, trash)  # atomic: the run disappears whole
    with closing(_connect(ws)) as con, con:
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    shutil.rmtree(trash, ignore_errors=True)


def run_files(ws: Workspace, run_id: str) -> dict[str, Path]:
    """Paths of a run's downloadable files (record, weights, test probabilities)."""
    folder = _run_dir(ws, run_id)
    if not folder.exists():
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def compare_runs(ws: Workspace, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Records of several runs for side-by-side comparison (history and metrics)."""
    return [get_run(ws, r) for r in run_ids]


def to_json(record: dict[str, Any]) -> str:
    """A run record as pretty JSON (what the Runs page offers for download)."""
    return json.dumps(record, indent=2, ensure_ascii=False)
