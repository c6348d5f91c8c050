"""Run records on disk: one folder per run, written whole and renamed into place, read back as JSON.

A run folder ``ws.runs/<run_id>/`` holds ``run.json`` (config, dataset id, classes, split indices, seed, library
versions, per-epoch history, metrics, timings, backbone) and the run's files (``model.safetensors`` and
``test_probs.npy`` for a training run, CSV tables for an evaluation). It is written whole in ``ws.tmp`` and
renamed into place, then indexed (:mod:`tlcore.runs.index`): a crash never leaves a half-written run that looks
complete. Torch-free: listing, showing and deleting runs never load a model.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
import shutil
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from tlcore.atomic import atomic_write_json, read_json
from tlcore.errors import RunNotFound, TlcoreError
from tlcore.runs.index import RunInfo, index_record, info_from_record, read_index, replace_rows, unindex
from tlcore.runtime.processes import pid_alive
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

RUN_FILE, WEIGHTS_FILE, PROBS_FILE = "run.json", "model.safetensors", "test_probs.npy"


def new_run_id() -> str:
    """A sortable, unique run id such as ``20261122-081503-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a run's numbers depend on (read from package metadata: nothing is imported)."""
    from tlcore import __version__

    versions = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "timm", "numpy", "scikit-learn", "pillow", "captum"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["tlcore"] = __version__
    return versions


def run_dir(ws: Workspace, run_id: str) -> Path:
    """The folder of run ``run_id`` (it may not exist).

    Raises:
        RunNotFound: when ``run_id`` could name a path outside the runs folder.
    """
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise RunNotFound(f"{run_id!r} is not a run id")
    return ws.runs / run_id


def write_run(ws: Workspace, record: dict[str, Any], files: dict[str, Any] | None = None) -> str:
    """Atomically create a run folder from ``record`` (must hold ``id``) plus extra files, and index it.

    Args:
        ws: the workspace.
        record: the JSON record; ``id``, ``created``, ``dataset_id`` are required.
        files: name -> ``bytes`` | numpy array (saved as .npy) | callable(path) that writes the file.
    """
    run_id = record["id"]
    final = run_dir(ws, run_id)
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
    index_record(ws, record)
    return run_id


def get_run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The JSON record of a run (no model loaded)."""
    path = run_dir(ws, run_id) / RUN_FILE
    try:
        return read_json(path)
    except FileNotFoundError:
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}") from None


def delete_run(ws: Workspace, run_id: str) -> None:
    """Remove a run's folder and its index row."""
    folder = run_dir(ws, run_id)
    if not folder.exists():
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    trash = ws.tmp / f"deleted-{run_id}.{os.getpid()}.tmp"
    os.rename(folder, trash)  # atomic: the run disappears whole
    unindex(ws, run_id)
    shutil.rmtree(trash, ignore_errors=True)


def run_files(ws: Workspace, run_id: str) -> dict[str, Path]:
    """Paths of a run's downloadable files (record, weights, test probabilities)."""
    folder = run_dir(ws, run_id)
    if not folder.exists():
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def compare_runs(ws: Workspace, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Records of several runs for side-by-side comparison (history and metrics)."""
    return [get_run(ws, r) for r in run_ids]


def to_json(record: dict[str, Any]) -> str:
    """A run record as pretty JSON (what the Runs page offers for download)."""
    return json.dumps(record, indent=2, ensure_ascii=False)


def _folder_ids(ws: Workspace) -> set[str]:
    return {p.name for p in ws.runs.iterdir() if (p / RUN_FILE).is_file()}


def _infos_from_folders(ws: Workspace, run_ids: Iterable[str]) -> list[RunInfo]:
    infos = []
    for run_id in sorted(run_ids):
        try:
            infos.append(info_from_record(read_json(ws.runs / run_id / RUN_FILE)))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            log.warning("run folder %s is unreadable and left out of the list: %s", run_id, exc)
    return infos


def list_runs(ws: Workspace, dataset_id: str | None = None, backbone: str | None = None,
              strategy: str | None = None, kind: str | None = None) -> list[RunInfo]:
    """Runs in the workspace, newest first, optionally filtered. Writes nothing.

    The run folders are the truth: a folder the index lacks (a crash between the rename and the index write, a
    run copied in by hand) is listed from its ``run.json``, and a row without a folder is left out; only
    :func:`repair_index` writes that fix into the index.
    """
    on_disk = _folder_ids(ws)
    indexed = read_index(ws) or {}
    infos = [info for run_id, info in indexed.items() if run_id in on_disk]
    infos += _infos_from_folders(ws, on_disk - set(indexed))
    wanted = {"dataset_id": dataset_id, "backbone": backbone, "strategy": strategy, "kind": kind}
    infos = [i for i in infos if all(v is None or getattr(i, k) == v for k, v in wanted.items())]
    return sorted(infos, key=lambda i: (i.created, i.id), reverse=True)


def repair_index(ws: Workspace) -> None:
    """Make the index match the run folders, and remove temp folders whose writer process is gone.

    Run at start-up (the app's first use of a workspace) and on request; never by a read.
    """
    for tmp in [*ws.tmp.glob("run-*.tmp"), *ws.tmp.glob("deleted-*.tmp")]:
        pid = tmp.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)
    on_disk = _folder_ids(ws)
    indexed = read_index(ws)
    if indexed is None:  # missing or unreadable: the index is derived data, rebuilt from the folders
        ws.index_db.unlink(missing_ok=True)
        indexed = {}
    replace_rows(ws, keep=on_disk & set(indexed), add=_infos_from_folders(ws, on_disk - set(indexed)))
