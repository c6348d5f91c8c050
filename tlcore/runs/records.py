"""Run records on disk: one folder per run, written whole and renamed into place, read back as JSON.

A run folder ``ws.runs/<run_id>/`` holds ``run.json`` (config, dataset id, classes, split indices, seed, library
versions, per-epoch history, metrics, timings, backbone) and the run's files (``model.safetensors`` and
``test_probs.npy`` for a training run, CSV tables for an evaluation). It is written whole in ``ws.tmp`` and
renamed into place, then indexed (:mod:`tlcore.runs.index`): a crash never leaves a half-written run that looks
complete. Torch-free: listing, showing and deleting runs never load a model.

Everything read back is untrusted (:mod:`tlcore.runs.checks`): a damaged run is listed with kind ``"damaged"`` and
its reason (:attr:`RunInfo.damaged`), and reading it raises :class:`RunDamaged` naming the run and the problem.
Nothing here deletes a damaged run unless asked to (:func:`delete_run`).
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
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from tlcore.atomic import atomic_write_json, disk_full, is_disk_full
from tlcore.errors import DiskFull, RunNotFound, TlcoreError
from tlcore.runs.checks import RunDamaged, check_record, damaged, read_record
from tlcore.runs.index import (
    IndexUnusable,
    RunInfo,
    damaged_info,
    file_stamp,
    index_record,
    info_from_record,
    read_index,
    replace_rows,
    unindex,
)
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
    if os.path.lexists(final):
        raise TlcoreError(f"run {run_id} already exists")
    tmp = ws.tmp / f"run-{run_id}.{os.getpid()}.tmp"
    name = ""
    try:
        tmp.mkdir(parents=True)
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
        name = RUN_FILE
        atomic_write_json(tmp / RUN_FILE, record)
        os.rename(tmp, final)
    except BaseException as exc:
        if is_disk_full(exc):  # the half-written folder goes first, then the message states the space free
            raise _run_disk_full(ws, record, files or {}, tmp, name, exc) from exc
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stamp = file_stamp(final / RUN_FILE) or ""
    _update_index(ws, lambda: index_record(ws, record, stamp))
    return run_id


def _run_disk_full(ws: Workspace, record: dict[str, Any], files: dict[str, Any], tmp: Path, failed: str,
                   exc: BaseException) -> DiskFull:
    """The :class:`DiskFull` of a run that did not fit, once its temp folder ``tmp`` is removed."""
    needed, exact = len(json.dumps(record, indent=2, ensure_ascii=False)), True
    for name, content in files.items():
        if isinstance(content, (bytes, bytearray, memoryview)):
            needed += len(content)
        elif isinstance(content, np.ndarray):
            needed += content.nbytes + 128  # the .npy header
        elif name == failed and isinstance(exc, DiskFull) and exc.needed:
            needed += exc.needed
        elif name != failed and (tmp / name).is_file():
            needed += (tmp / name).stat().st_size
        else:
            exact = False
    shutil.rmtree(tmp, ignore_errors=True)
    return disk_full(ws.runs, f"saving run {record['id']}", needed, at_least=not exact,
                     undone="Nothing of it was kept (its temp folder was removed); earlier runs are unchanged.")


def get_run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The JSON record of a run (no model loaded), checked (:func:`tlcore.runs.checks.check_record`).

    Raises:
        RunNotFound: there is no such run.
        RunDamaged: its folder or ``run.json`` is unreadable or malformed; the message names the run and the problem.
    """
    folder = run_dir(ws, run_id)
    if not os.path.lexists(folder):
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    if not folder.is_dir():
        raise damaged(run_id, f"{folder} is a file, not a run folder")
    trained = os.path.lexists(folder / WEIGHTS_FILE)
    return check_record(read_record(folder / RUN_FILE, run_id), run_id, trained=trained)


def delete_run(ws: Workspace, run_id: str) -> None:
    """Remove a run's folder (or whatever took its place: a damaged run is deleted the same way) and its index row."""
    folder = run_dir(ws, run_id)
    if not os.path.lexists(folder):
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    trash = ws.tmp / f"deleted-{run_id}.{os.getpid()}.tmp"
    os.rename(folder, trash)  # atomic: the run disappears whole
    _update_index(ws, lambda: unindex(ws, run_id))
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def run_files(ws: Workspace, run_id: str) -> dict[str, Path]:
    """Paths of a run's downloadable files (record, weights, test probabilities).

    Raises:
        RunNotFound: no such run. RunDamaged: the run's folder is a file.
    """
    folder = run_dir(ws, run_id)
    if not os.path.lexists(folder):
        raise RunNotFound(f"no run {run_id!r} in the workspace {ws.root}")
    if not folder.is_dir():
        raise damaged(run_id, f"{folder} is a file, not a run folder")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink()}


def compare_runs(ws: Workspace, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Records of several runs for side-by-side comparison (history and metrics)."""
    return [get_run(ws, r) for r in run_ids]


def to_json(record: dict[str, Any]) -> str:
    """A run record as pretty JSON (what the Runs page offers for download)."""
    return json.dumps(record, indent=2, ensure_ascii=False)


def _scan(ws: Workspace) -> tuple[dict[str, str], dict[str, RunInfo]]:
    """The run folders: ``run.json`` stamps of those that have one, and the damaged entries that cannot be runs."""
    stamps: dict[str, str] = {}
    broken: dict[str, RunInfo] = {}
    for entry in ws.runs.iterdir():
        run_id = entry.name
        if run_id.startswith("."):
            continue
        stamp = file_stamp(entry / RUN_FILE)
        if stamp is not None:
            stamps[run_id] = stamp
            continue
        if not entry.is_dir():
            reason = f"{entry} is a file, not a run folder"
        elif (entry / RUN_FILE).is_dir():
            reason = f"{RUN_FILE} is a folder, not a file ({entry / RUN_FILE})"
        elif os.path.lexists(entry / RUN_FILE):
            reason = f"{RUN_FILE} is not a regular file ({entry / RUN_FILE})"
        else:
            reason = f"{RUN_FILE} is missing ({entry / RUN_FILE})"
        broken[run_id] = damaged_info(run_id, _mtime(entry), f"run {run_id} is damaged: {reason}")
    return stamps, broken


def _mtime(path: Path) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _info_from_folder(ws: Workspace, run_id: str) -> RunInfo:
    """The index row of a run read from its folder, or a damaged row naming the problem."""
    try:
        return info_from_record(get_run(ws, run_id))
    except RunDamaged as e:
        log.warning("%s", e)
        return damaged_info(run_id, _mtime(ws.runs / run_id), str(e))


def _update_index(ws: Workspace, write: Callable[[], None]) -> None:
    """Apply a writer's change to the index; an index that cannot be written is rebuilt from the folders.

    The run folder is already in place (or gone) when this runs: a failure here never fails the save or delete.
    """
    try:
        write()
        return
    except IndexUnusable as e:
        log.warning("rebuilding the run index: %s", e)
    except (sqlite3.Error, OSError) as e:
        log.warning("the run index was not updated (%s); the run folders stay the truth", e)
        return
    try:
        _rebuild_index(ws)
    except (IndexUnusable, sqlite3.Error, OSError) as e:
        log.warning("the run index %s cannot be rebuilt (%s); runs are listed from their folders", ws.index_db, e)


def _rebuild_index(ws: Workspace) -> None:
    """Replace an unusable index file with one made from the run folders (a folder in its place is left alone)."""
    if ws.index_db.is_file() or ws.index_db.is_symlink():
        ws.index_db.unlink()
    stamps, _ = _scan(ws)
    _write_rows(ws, keep=set(), stamps=stamps)


def _write_rows(ws: Workspace, keep: set[str], stamps: dict[str, str]) -> None:
    add = []
    for run_id in sorted(set(stamps) - keep):
        info = _info_from_folder(ws, run_id)
        if not info.damaged:  # damaged runs stay out of the index: they are found in the folders every time
            add.append((info, stamps[run_id]))
    replace_rows(ws, keep=keep, add=add)


def list_runs(ws: Workspace, dataset_id: str | None = None, backbone: str | None = None,
              strategy: str | None = None, kind: str | None = None) -> list[RunInfo]:
    """Runs in the workspace, newest first, optionally filtered. Writes nothing.

    The run folders are the truth: a folder the index lacks (a crash between the rename and the index write, a
    run copied in by hand) or whose ``run.json`` changed since it was indexed is listed from its ``run.json``, and
    a row without a folder is left out; only :func:`repair_index` writes that fix into the index.

    A damaged run (a file in place of its folder, a missing, unreadable or malformed ``run.json``) is listed too,
    with kind ``"damaged"`` and the reason in :attr:`RunInfo.damaged`; it matches no ``dataset_id``, ``backbone``,
    ``strategy`` or ``kind`` filter but ``kind="damaged"``. Nothing damaged is ever deleted here.
    """
    stamps, broken = _scan(ws)
    indexed = read_index(ws) or {}
    infos = [info for run_id, (info, stamp) in indexed.items() if stamps.get(run_id) == stamp]
    fresh = {info.id for info in infos}
    infos += [_info_from_folder(ws, run_id) for run_id in sorted(set(stamps) - fresh)]
    infos += broken.values()
    wanted = {"dataset_id": dataset_id, "backbone": backbone, "strategy": strategy, "kind": kind}
    infos = [i for i in infos if all(v is None or getattr(i, k) == v for k, v in wanted.items())]
    return sorted(infos, key=lambda i: (i.created, i.id), reverse=True)


def repair_index(ws: Workspace) -> None:
    """Make the index match the run folders, and remove temp folders whose writer process is gone.

    Run at start-up (the app's first use of a workspace), on request, and by a writer that finds the index
    unusable; never by a read. An unreadable index is derived data and rebuilt from the folders; damaged runs are
    left where they are (and out of the index).
    """
    for tmp in [*ws.tmp.glob("run-*.tmp"), *ws.tmp.glob("deleted-*.tmp")]:
        pid = tmp.name.rsplit(".", 2)[-2]
        if not (pid.isdigit() and pid_alive(int(pid))):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
    stamps, _ = _scan(ws)
    indexed = read_index(ws)
    if indexed is None:  # missing or unreadable: the index is derived data, rebuilt from the folders
        try:
            _rebuild_index(ws)
        except (IndexUnusable, sqlite3.Error, OSError) as e:
            log.warning("the run index %s cannot be rebuilt (%s); runs are listed from their folders", ws.index_db, e)
        return
    keep = {run_id for run_id, (_, stamp) in indexed.items() if stamps.get(run_id) == stamp}
    try:
        _write_rows(ws, keep=keep, stamps=stamps)
    except IndexUnusable as e:
        log.warning("rebuilding the run index: %s", e)
        _rebuild_index(ws)
