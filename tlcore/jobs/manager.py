"""Background jobs: long work (training, cross-validation, attribution batches) in worker processes.

One :class:`JobManager` per server process (the app keeps it in ``st.cache_resource``) serves every browser
session. Each job runs in its own worker process (``python -m tlcore.jobs.worker run <job_dir>``, see
:mod:`tlcore.jobs.worker`), so a crash or an out-of-memory kill of the worker never takes the app down and training
never holds the app's GIL. All job state lives on disk (the layout is in :mod:`tlcore.jobs.folders`), so any
manager (another tab, another process, the server after a restart) reads it.

Who writes ``status.json``: the manager writes "queued" at submit and "running" just before it spawns the
worker; from then on only the worker writes it (its pid, then the final state); once the worker process has
exited, the manager that spawned it writes a final state if the worker could not (crash, kill). Transitions
made by managers happen under an exclusive ``flock`` on ``ws.jobs/.lock``, so several managers (threads or
processes) on one workspace never race.

States: queued -> running -> done | failed | cancelled; queued -> cancelled; and "interrupted" when the
manager that owned a queued or running job is gone (server stopped or crashed). Each manager starts only the
jobs submitted to it, FIFO, at most ``max_running`` at a time. Jobs queued before a restart are marked
interrupted, not re-queued: starting a training nobody is watching any more would be a surprise.

Workers die with the server: each worker sets ``PR_SET_PDEATHSIG`` (SIGTERM) on Linux and exits at once if its
parent is already gone. The kernel sends that signal when the *thread* that spawned the worker ends, so
workers are spawned only by the manager's long-lived supervisor thread, never by a (short) Streamlit script
thread. POSIX only (``fcntl``, ``/proc``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tlcore.jobs.kinds  # noqa: F401  (registers the built-in kinds; light)
from tlcore.atomic import atomic_write_text, remove_stale_temp_files
from tlcore.errors import TlcoreError
from tlcore.jobs.folders import (
    ACTIVE_STATES, CANCEL_FILE, EVENTS_FILE, FINAL_STATES, LOG_FILE, TRACEBACK_FILE, JobNotFound, create_job_folder,
    disk_lock, job_dir, job_ids, last_progress, log_tail, new_job_id, read_events, read_job, read_result, read_state,
    read_text, remove_stale_staging, write_state,
)
from tlcore.jobs.params import JobParams
from tlcore.jobs.registry import get_kind
from tlcore.jobs.spawn import Worker, describe_exit, is_worker_of, spawn_worker
from tlcore.runs.records import repair_index
from tlcore.runtime.processes import identity_alive, process_identity, same_process
from tlcore.train.caches import remove_stale_fill_files
from tlcore.workspace import Workspace

logger = logging.getLogger(__name__)

INTERRUPTED_RUNNING = "the server stopped while this job was running"
INTERRUPTED_QUEUED = "the server stopped before this job started"
CLOSED_RUNNING = "the job manager was shut down while this job was running"
CLOSED_QUEUED = "the job manager was shut down before this job started"
CANCELLED_QUEUED = "cancelled by the user before it started"

__all__ = ["JobManager", "JobNotFound", "JobStatus", "describe_exit"]


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job, read from its folder."""

    id: str
    kind: str
    owner: str
    label: str
    state: str  # one of tlcore.jobs.folders.STATES
    created: float  # epoch seconds
    started: float | None = None
    finished: float | None = None
    error: str = ""  # a message for the user; never a traceback
    traceback: str = ""  # debugging detail for internal errors and crashes
    result: dict | None = None
    progress: dict | None = None  # the latest "progress" or "epoch" event dict
    pid: int | None = None  # the worker's pid once it started
    params: dict = field(default_factory=dict)
    cancel_requested: bool = False

    @property
    def active(self) -> bool:
        """True while queued or running."""
        return self.state in ACTIVE_STATES


class JobManager:
    """Runs jobs in worker processes and reports their state from disk.

    Thread-safe: one instance is shared by all browser sessions. Several instances (or processes) on one
    workspace see each other's jobs; each starts only the jobs submitted to it.

    Args:
        ws: the workspace whose ``jobs/`` folder holds the job state.
        max_running: how many of this manager's jobs run at once; the rest wait, first come first served.
        cancel_grace: seconds a cancelled worker gets to stop by itself before it is terminated.
        kill_grace: seconds between SIGTERM and SIGKILL for a worker that ignores SIGTERM.
        poll_interval: seconds between the supervisor's checks.
    """

    def __init__(
        self,
        ws: Workspace,
        max_running: int = 1,
        cancel_grace: float = 10.0,
        kill_grace: float = 3.0,
        poll_interval: float = 0.2,
    ) -> None:
        if max_running < 1:
            raise ValueError(f"max_running must be at least 1, got {max_running}")
        self.ws = ws
        self.max_running = max_running
        self._cancel_grace, self._kill_grace, self._poll = cancel_grace, kill_grace, poll_interval
        self._me = {"id": uuid.uuid4().hex, **process_identity()}
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._workers: dict[str, Worker] = {}
        self._final: dict[str, JobStatus] = {}
        self._last_us = 0
        self._closed = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._recover()
        self._thread = threading.Thread(target=self._supervise, name="tlcore-job-supervisor", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public API

    def submit(self, kind: str, params: dict, owner: str = "", label: str = "") -> str:
        """Queue a job of ``kind`` (a name in :mod:`tlcore.jobs.registry`) and return its id.

        ``params`` is the kind's params dict, usually its builder's ``to_params()`` (see :meth:`submit_job`).

        Raises:
            TlcoreError: unknown kind, or ``params`` that are not JSON data.
        """
        get_kind(kind)
        try:
            json.dumps(params, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TlcoreError(f"the parameters of a {kind!r} job must be plain JSON data: {e}") from e
        with self._lock:
            if self._closed:
                raise RuntimeError("this JobManager is closed; create a new one to submit jobs")
            job_id, self._last_us = new_job_id(self._last_us)  # strictly increasing within this manager
            now = time.time()
            job = {"id": job_id, "kind": kind, "params": params, "owner": owner, "label": label, "created": now,
                   "workspace": str(self.ws.root)}
            create_job_folder(self.ws.jobs, job, {"state": "queued", "created": now, "manager": self._me})
            self._queue.append(job_id)
        logger.info("queued job %s (%s) for %r", job_id, kind, owner)
        self._wake.set()
        return job_id

    def submit_job(self, job: JobParams, owner: str = "", label: str = "") -> str:
        """Queue the job that the typed parameters ``job`` describe (``TrainJob(...)``, ...); return its id."""
        return self.submit(job.kind, job.to_params(), owner=owner, label=label)

    def get(self, job_id: str) -> JobStatus:
        """The current state of ``job_id``.

        Raises:
            JobNotFound: no such job in this workspace.
            TlcoreError: the job's folder is damaged (its files were edited or removed by hand).
        """
        cached = self._final.get(job_id)
        if cached is not None:
            return cached
        folder = job_dir(self.ws.jobs, job_id)
        status = self._load(folder)
        if status.active:
            self._interrupt_if_orphaned(folder)
            status = self._load(folder)
        if not status.active:
            self._final[job_id] = status
        return status

    def list(self, owner: str | None = None) -> list[JobStatus]:
        """All jobs in the workspace (only ``owner``'s if given), newest first."""
        out = []
        for job_id in reversed(job_ids(self.ws.jobs)):
            try:
                status = self.get(job_id)
            except JobNotFound:
                continue  # removed while we listed
            except TlcoreError as e:
                logger.warning("leaving out a job: %s", e)
                continue
            if owner is None or status.owner == owner:
                out.append(status)
        return out

    def cancel(self, job_id: str) -> JobStatus:
        """Ask ``job_id`` to stop. A queued job is cancelled at once; a running one at its next check, or it
        is terminated after the grace period. Does nothing to a finished job. Returns the state after asking."""
        folder = job_dir(self.ws.jobs, job_id)
        if not self.get(job_id).active:
            return self.get(job_id)
        (folder / CANCEL_FILE).touch()
        with disk_lock(self.ws.jobs):
            status = read_state(folder)
            if status["state"] == "queued":
                status.update(state="cancelled", error=CANCELLED_QUEUED, finished=time.time())
                write_state(folder, status)
        logger.info("cancel asked for job %s", job_id)
        self._wake.set()
        return self.get(job_id)

    def events(self, job_id: str, since: int = 0) -> list[dict]:
        """Progress events of ``job_id`` from index ``since`` on; each dict has an ``index`` key.

        Pass the last index seen plus one to get only new events.
        """
        return read_events(job_dir(self.ws.jobs, job_id) / EVENTS_FILE, since)

    def wait(self, job_id: str, timeout: float | None = None, interval: float = 0.05) -> JobStatus:
        """Block until ``job_id`` is no longer queued or running (for tests and the CLI).

        Raises:
            TimeoutError: still active after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.get(job_id)
            if not status.active:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {status.state} after {timeout:g} s")
            time.sleep(interval)

    def close(self) -> None:
        """Stop the supervisor, terminate this manager's workers and mark its unfinished jobs interrupted."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join()
        with self._lock:
            for job_id, worker in self._workers.items():
                worker.stop()
                self._finish(job_id, worker, interrupted=CLOSED_RUNNING)
            self._workers.clear()
            for job_id in self._queue:
                self._mark_if_active(self.ws.jobs / job_id, "interrupted", CLOSED_QUEUED)
            self._queue.clear()

    def __enter__(self) -> JobManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading state

    def _load(self, folder: Path) -> JobStatus:
        try:
            return self._read_status(folder)
        except (OSError, ValueError, KeyError, AttributeError) as e:
            raise TlcoreError(f"job folder {folder} is damaged ({type(e).__name__}: {e})") from e

    def _read_status(self, folder: Path) -> JobStatus:
        job, status = read_job(folder), read_state(folder)
        state = status["state"]
        progress = status.get("progress") if state in FINAL_STATES else last_progress(folder / EVENTS_FILE)
        pid = status.get("pid")
        if pid is None and state == "running":
            worker = self._workers.get(folder.name)
            pid = worker.popen.pid if worker is not None else None
        return JobStatus(
            id=job["id"], kind=job["kind"], owner=job.get("owner", ""), label=job.get("label", ""), state=state,
            created=job["created"], started=status.get("started"), finished=status.get("finished"),
            error=status.get("error", ""), traceback=read_text(folder / TRACEBACK_FILE), result=read_result(folder),
            progress=progress, pid=pid, params=job.get("params", {}),
            cancel_requested=(folder / CANCEL_FILE).exists(),
        )

    # ------------------------------------------------------------------ state changes on disk

    def _mark_if_active(self, folder: Path, state: str, error: str, **extra: Any) -> bool:
        """Move a queued/running job to a final ``state``; False if it had already finished."""
        with disk_lock(self.ws.jobs):
            status = read_state(folder)
            if status["state"] not in ACTIVE_STATES:
                return False
            status.update(state=state, error=error, finished=time.time(),
                          progress=last_progress(folder / EVENTS_FILE), **extra)
            write_state(folder, status)
        logger.info("job %s: %s (%s)", folder.name, state, error)
        return True

    def _interrupt_if_orphaned(self, folder: Path) -> None:
        """Mark an active job interrupted if the manager that owns it is gone (stopping an orphaned worker)."""
        status = read_state(folder)
        manager = status.get("manager") or {}
        if manager.get("id") == self._me["id"] or identity_alive(manager):
            return  # its manager is alive and will settle it
        pid = status.get("pid")
        if status["state"] == "running" and same_process(pid, status.get("pid_start")) and is_worker_of(pid, folder):
            logger.warning("stopping orphaned worker %d of job %s", pid, folder.name)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        reason = INTERRUPTED_RUNNING if status["state"] == "running" else INTERRUPTED_QUEUED
        self._mark_if_active(folder, "interrupted", reason)

    def _recover(self) -> None:
        """After a restart: settle jobs whose manager is gone and clean up half-written files (jobs, caches, runs)."""
        remove_stale_staging(self.ws.jobs)
        for job_id in job_ids(self.ws.jobs):
            try:
                status = self.get(job_id)
            except TlcoreError as e:
                logger.warning("not recovering a job: %s", e)
                continue
            if not status.active:
                with disk_lock(self.ws.jobs):
                    removed = remove_stale_temp_files(self.ws.jobs / job_id)
                if removed:
                    logger.info("removed %d stale temp file(s) in %s", removed, self.ws.jobs / job_id)
        remove_stale_fill_files(self.ws)  # a killed fill's rows file can be gigabytes
        repair_index(self.ws)  # and the run store: a killed worker's half-assembled run folder, a missing index row

    # ------------------------------------------------------------------ supervisor

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._reap()
                    self._start_queued()
            except Exception:  # noqa: BLE001 — the supervisor must outlive one bad check; the error is logged
                logger.exception("job supervisor check failed; retrying")
            self._wake.wait(self._poll)
            self._wake.clear()

    def _reap(self) -> None:
        now = time.monotonic()
        for job_id, worker in list(self._workers.items()):
            if worker.popen.poll() is None:
                cancel_asked = (self.ws.jobs / job_id / CANCEL_FILE).exists()
                worker.enforce_cancel(cancel_asked, now, self._cancel_grace, self._kill_grace, job_id)
                continue
            del self._workers[job_id]
            self._finish(job_id, worker)

    def _finish(self, job_id: str, worker: Worker, interrupted: str = "") -> None:
        """Settle a job whose worker process has exited, if the worker could not report a final state."""
        folder = self.ws.jobs / job_id
        returncode = worker.popen.returncode
        if (folder / CANCEL_FILE).exists():
            state, error = "cancelled", "cancelled by the user"
            if worker.terminated_at is not None:
                error += f"; the worker did not stop within {self._cancel_grace:g} s and was terminated"
        elif interrupted:
            state, error = "interrupted", interrupted
        else:
            state, error = "failed", describe_exit(returncode)
        if self._mark_if_active(folder, state, error, exit_code=returncode):
            log = log_tail(folder / LOG_FILE)
            if log and not (folder / TRACEBACK_FILE).exists():
                atomic_write_text(folder / TRACEBACK_FILE, f"{error}\n\nlast lines of {LOG_FILE}:\n{log}")

    def _start_queued(self) -> None:
        while self._queue and len(self._workers) < self.max_running:
            job_id = self._queue.popleft()
            folder = self.ws.jobs / job_id
            with disk_lock(self.ws.jobs):
                status = read_state(folder)
                if status["state"] != "queued":
                    continue  # cancelled while it waited
                status.update(state="running", started=time.time(), manager=self._me)
                write_state(folder, status)
                try:
                    worker = spawn_worker(folder)
                except OSError as e:
                    status.update(state="failed", error=f"could not start a worker process: {e}", finished=time.time())
                    write_state(folder, status)
                    logger.error("could not start job %s: %s", job_id, e)
                    continue
            self._workers[job_id] = worker
            logger.info("started job %s in worker pid %d", job_id, worker.popen.pid)
