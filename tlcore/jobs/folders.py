"""The job folder: its layout under ``ws.jobs/<job_id>/`` and the reads and writes of its files.

- ``job.json``      kind, params, owner, label, created, workspace root (written once at submit)
- ``status.json``   state, times, error, pids, the owning manager's identity (atomic rewrites)
- ``events.jsonl``  one ``event_to_dict`` line per progress event (appended by the worker)
- ``result.json``   the kind's result dict (atomic, before the state becomes "done")
- ``cancel``        flag file: present once cancel was asked (a file-backed ``CancelToken``)
- ``traceback.txt`` for internal errors and crashes: debugging detail kept out of ``error``
- ``worker.log``    the worker's stdout/stderr

Beside the job folders: ``.lock`` (the ``flock`` that serialises state changes made by managers) and
``.<job_id>.tmpdir`` (a job folder being assembled at submit, renamed into place when complete).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tlcore.atomic import atomic_write_json, read_json
from tlcore.errors import TlcoreError

logger = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATES = frozenset({"queued", "running"})
FINAL_STATES = frozenset({"done", "failed", "cancelled", "interrupted"})
PROGRESS_KINDS = frozenset({"progress", "epoch"})

JOB_FILE, STATUS_FILE, EVENTS_FILE, RESULT_FILE = "job.json", "status.json", "events.jsonl", "result.json"
CANCEL_FILE, TRACEBACK_FILE, LOG_FILE, LOCK_FILE = "cancel", "traceback.txt", "worker.log", ".lock"

_JOB_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{6}$")
_TAIL_BYTES = 64 * 1024
_STALE_TMPDIR_S = 60.0


class JobNotFound(TlcoreError, KeyError):
    """No job with that id in the workspace."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "job not found"


def new_job_id(after_us: int = 0) -> tuple[str, int]:
    """A fresh job id (UTC time to the microsecond, then 6 random hex digits) and its microsecond stamp.

    Args:
        after_us: the stamp of the previous id made by this caller; the new one is strictly later.
    """
    us = max(time.time_ns() // 1000, after_us + 1)
    seconds, micros = divmod(us, 1_000_000)
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(seconds))}-{micros:06d}-{secrets.token_hex(3)}", us


def job_ids(jobs_root: Path) -> list[str]:
    """The ids of the job folders under ``jobs_root``, oldest first (ids sort by time)."""
    return sorted(p.name for p in jobs_root.iterdir() if _JOB_ID.match(p.name))


def job_dir(jobs_root: Path, job_id: str) -> Path:
    """The folder of ``job_id``.

    Raises:
        JobNotFound: ``job_id`` is not a job id, or no such job has a status file.
    """
    folder = jobs_root / job_id if isinstance(job_id, str) else None
    if folder is None or not _JOB_ID.match(job_id) or not (folder / STATUS_FILE).is_file():
        raise JobNotFound(f"no job {job_id!r} in {jobs_root}")
    return folder


def create_job_folder(jobs_root: Path, job: dict[str, Any], status: dict[str, Any]) -> Path:
    """Write ``job.json`` and ``status.json`` into a staging folder and rename it into place (all or nothing)."""
    staging = jobs_root / f".{job['id']}.tmpdir"
    staging.mkdir()
    atomic_write_json(staging / JOB_FILE, job)
    atomic_write_json(staging / STATUS_FILE, status)
    final = jobs_root / job["id"]
    staging.rename(final)
    return final


def remove_stale_staging(jobs_root: Path, older_than: float = _STALE_TMPDIR_S) -> None:
    """Remove staging folders left by a submit that crashed before its job folder was renamed into place."""
    now = time.time()
    for path in jobs_root.iterdir():
        if path.name.endswith(".tmpdir") and path.is_dir() and now - path.stat().st_mtime > older_than:
            for child in path.iterdir():
                child.unlink()
            path.rmdir()


@contextmanager
def disk_lock(jobs_root: Path) -> Iterator[None]:
    """Exclusive across threads and processes (each call opens its own file description)."""
    with open(jobs_root / LOCK_FILE, "ab") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


def read_job(folder: Path) -> dict[str, Any]:
    """``job.json``: what was submitted."""
    return read_json(folder / JOB_FILE)


def read_state(folder: Path) -> dict[str, Any]:
    """``status.json``: where the job stands.

    Raises:
        ValueError: its state is not one of :data:`STATES`.
    """
    status = read_json(folder / STATUS_FILE)
    if status["state"] not in STATES:
        raise ValueError(f"unknown state {status['state']!r} in {STATUS_FILE}")
    return status


def write_state(folder: Path, status: dict[str, Any]) -> None:
    """Replace ``status.json`` atomically."""
    atomic_write_json(folder / STATUS_FILE, status)


def read_result(folder: Path) -> dict | None:
    """``result.json``, or None before the job has a result."""
    path = folder / RESULT_FILE
    return read_json(path) if path.is_file() else None


def last_progress(events_path: Path) -> dict | None:
    """The latest "progress" or "epoch" event in ``events_path`` (reads the tail first)."""
    try:
        size = events_path.stat().st_size
    except FileNotFoundError:
        return None
    offset = max(0, size - _TAIL_BYTES)
    while True:
        with open(events_path, "rb") as f:
            f.seek(offset)
            lines = f.read(size - offset).split(b"\n")
        lines = lines[1:-1] if offset else lines[:-1]  # drop a cut first line and the unfinished last one
        for line in reversed(lines):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("kind") in PROGRESS_KINDS:
                return event
        if offset == 0:
            return None
        offset = 0


def read_events(events_path: Path, since: int = 0) -> list[dict]:
    """The events of ``events_path`` from index ``since`` on, each with an ``index`` key; unreadable lines skipped."""
    try:
        data = events_path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for index, line in enumerate(data.split(b"\n")[:-1]):  # the last piece is unfinished (or empty)
        if index < since:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            logger.warning("skipping unreadable line %d of %s", index + 1, events_path)
            continue
        event["index"] = index
        out.append(event)
    return out


def read_text(path: Path) -> str:
    """The text of ``path``, "" if there is no such file."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def log_tail(path: Path, max_bytes: int = 8192) -> str:
    """The last ``max_bytes`` of ``path`` as text, "" if there is no such file."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
