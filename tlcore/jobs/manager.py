"""Background jobs: long work (training, cross-validation, attribution batches) in worker processes.

One :class:`JobManager` per server process (the app keeps it in ``st.cache_resource``) serves every browser
session. Each job runs in its own worker process (``python -m tlcore.jobs run <job_dir>``), so a crash or an
out-of-memory kill of the worker never takes the app down and training never holds the app's GIL. All job
state lives on disk, so any manager (another tab, another process, the server after a restart) reads it.

Layout of ``ws.jobs/<job_id>/``:

- ``job.json``     kind, params, owner, label, created, workspace root (written once at submit)
- ``status.json``  state, times, error, pids, the owning manager's identity (atomic rewrites)
- ``events.jsonl`` one ``event_to_dict`` line per progress event (appended by the worker)
- ``result.json``  the task's result dict (atomic, before the state becomes "done")
- ``cancel``       flag file: present once cancel was asked (a file-backed ``CancelToken``)
- ``traceback.txt`` for internal errors and crashes: debugging detail kept out of ``error``
- ``worker.log``   the worker's stdout/stderr

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

import ctypes
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tlcore.atomic import atomic_write_json, atomic_write_text, read_json, remove_stale_temp_files
from tlcore.errors import Cancelled, TlcoreError
from tlcore.events import CancelToken, Event, EventCallback, event_to_dict
from tlcore.jobs.kinds import TASKS
from tlcore.runtime.allocator import allocator_env
from tlcore.train.caches import remove_stale_fill_files
from tlcore.workspace import Workspace

logger = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATES = frozenset({"queued", "running"})
FINAL_STATES = frozenset({"done", "failed", "cancelled", "interrupted"})
PROGRESS_KINDS = frozenset({"progress", "epoch"})

JOB_FILE, STATUS_FILE, EVENTS_FILE, RESULT_FILE = "job.json", "status.json", "events.jsonl", "result.json"
CANCEL_FILE, TRACEBACK_FILE, LOG_FILE, LOCK_FILE = "cancel", "traceback.txt", "worker.log", ".lock"
PARENT_ENV = "TLCORE_JOB_PARENT_PID"

INTERRUPTED_RUNNING = "the server stopped while this job was running"
INTERRUPTED_QUEUED = "the server stopped before this job started"
CLOSED_RUNNING = "the job manager was shut down while this job was running"
CLOSED_QUEUED = "the job manager was shut down before this job started"
CANCELLED_QUEUED = "cancelled by the user before it started"

_JOB_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{6}$")
_TAIL_BYTES = 64 * 1024
_STALE_TMPDIR_S = 60.0


class JobNotFound(TlcoreError, KeyError):
    """No job with that id in the workspace."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "job not found"


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job, read from its folder."""

    id: str
    kind: str
    owner: str
    label: str
    state: str  # one of STATES
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


# ---------------------------------------------------------------------------------------------- processes


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int | None) -> int | None:
    """Start time (clock ticks after boot) of a live, non-zombie process ``pid``; None if there is none."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): fall back to a plain existence check
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    after_name = stat.rsplit(")", 1)[1].split()
    if after_name[0] in ("Z", "X", "x"):
        return None
    return int(after_name[19])  # field 22 of /proc/<pid>/stat


def _same_process(pid: int | None, start: int | None) -> bool:
    """True if ``pid`` is alive and is the very process that had start time ``start`` (not a reused pid)."""
    now = _process_start(pid)
    return now is not None and (start is None or now == 0 or now == start)


def _identity() -> dict[str, Any]:
    pid = os.getpid()
    return {"id": uuid.uuid4().hex, "pid": pid, "start": _process_start(pid), "boot": _boot_id()}


def _identity_alive(ident: dict[str, Any] | None) -> bool:
    """True if the manager process recorded in ``ident`` is still running."""
    if not ident or ident.get("boot", "") != _boot_id():
        return False
    return _same_process(ident.get("pid"), ident.get("start"))


def _is_worker_of(pid: int, job_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"tlcore.jobs" in cmdline and str(job_dir).encode() in cmdline


def describe_exit(returncode: int) -> str:
    """A user-facing reason for a worker that exited without reporting a result."""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        hint = " — out of memory?" if number == signal.SIGKILL else ""
        return f"worker process died (killed by signal {number}, {name}{hint})"
    return f"worker process exited with code {returncode} without reporting a result"


# ---------------------------------------------------------------------------------------------- files


def _last_progress(events_path: Path) -> dict | None:
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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _log_tail(path: Path, max_bytes: int = 8192) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------------------------- manager


@dataclass
class _Worker:
    """A worker process this manager spawned, and where its cancellation stands."""

    popen: subprocess.Popen
    cancel_deadline: float | None = None  # monotonic time after which a cancelled worker is terminated
    terminated_at: float | None = None
    killed: bool = False


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
        self._me = _identity()
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._workers: dict[str, _Worker] = {}
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
        """Queue a job of ``kind`` (a name in ``tlcore.tasks.TASKS``) and return its id.

        Raises:
            TlcoreError: unknown kind, or ``params`` that are not JSON data.
        """
        if kind not in TASKS:
            raise TlcoreError(f"unknown job kind {kind!r}; known kinds: {', '.join(sorted(TASKS))}")
        try:
            json.dumps(params, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TlcoreError(f"the parameters of a {kind!r} job must be plain JSON data: {e}") from e
        with self._lock:
            if self._closed:
                raise RuntimeError("this JobManager is closed; create a new one to submit jobs")
            job_id = self._new_id()
            now = time.time()
            staging = self.ws.jobs / f".{job_id}.tmpdir"
            staging.mkdir()
            job = {"id": job_id, "kind": kind, "params": params, "owner": owner, "label": label, "created": now,
                   "workspace": str(self.ws.root)}
            atomic_write_json(staging / JOB_FILE, job)
            atomic_write_json(staging / STATUS_FILE, {"state": "queued", "created": now, "manager": self._me})
            staging.rename(self.ws.jobs / job_id)
            self._queue.append(job_id)
        logger.info("queued job %s (%s) for %r", job_id, kind, owner)
        self._wake.set()
        return job_id

    def get(self, job_id: str) -> JobStatus:
        """The current state of ``job_id``.

        Raises:
            JobNotFound: no such job in this workspace.
            TlcoreError: the job's folder is damaged (its files were edited or removed by hand).
        """
        cached = self._final.get(job_id)
        if cached is not None:
            return cached
        job_dir = self._job_dir(job_id)
        status = self._load(job_dir)
        if status.active:
            self._interrupt_if_orphaned(job_dir)
            status = self._load(job_dir)
        if not status.active:
            self._final[job_id] = status
        return status

    def list(self, owner: str | None = None) -> list[JobStatus]:
        """All jobs in the workspace (only ``owner``'s if given), newest first."""
        out = []
        for job_id in sorted((p.name for p in self.ws.jobs.iterdir() if _JOB_ID.match(p.name)), reverse=True):
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
        job_dir = self._job_dir(job_id)
        if not self.get(job_id).active:
            return self.get(job_id)
        (job_dir / CANCEL_FILE).touch()
        with self._disk_lock():
            status = read_json(job_dir / STATUS_FILE)
            if status["state"] == "queued":
                status.update(state="cancelled", error=CANCELLED_QUEUED, finished=time.time())
                atomic_write_json(job_dir / STATUS_FILE, status)
        logger.info("cancel asked for job %s", job_id)
        self._wake.set()
        return self.get(job_id)

    def events(self, job_id: str, since: int = 0) -> list[dict]:
        """Progress events of ``job_id`` from index ``since`` on; each dict has an ``index`` key.

        Pass the last index seen plus one to get only new events.
        """
        path = self._job_dir(job_id) / EVENTS_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for index, line in enumerate(data.split(b"\n")[:-1]):  # the last piece is unfinished (or empty)
            if index < since:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                logger.warning("skipping unreadable line %d of %s", index + 1, path)
                continue
            event["index"] = index
            out.append(event)
        return out

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
                self._stop_worker(worker.popen)
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

    def _job_dir(self, job_id: str) -> Path:
        job_dir = self.ws.jobs / job_id
        if not isinstance(job_id, str) or not _JOB_ID.match(job_id) or not (job_dir / STATUS_FILE).is_file():
            raise JobNotFound(f"no job {job_id!r} in {self.ws.jobs}")
        return job_dir

    def _load(self, job_dir: Path) -> JobStatus:
        try:
            return self._read_status(job_dir)
        except (OSError, ValueError, KeyError, AttributeError) as e:
            raise TlcoreError(f"job folder {job_dir} is damaged ({type(e).__name__}: {e})") from e

    def _read_status(self, job_dir: Path) -> JobStatus:
        job = read_json(job_dir / JOB_FILE)
        status = read_json(job_dir / STATUS_FILE)
        state = status["state"]
        if state not in STATES:
            raise ValueError(f"unknown state {state!r} in {STATUS_FILE}")
        result = read_json(job_dir / RESULT_FILE) if (job_dir / RESULT_FILE).is_file() else None
        progress = status.get("progress") if state in FINAL_STATES else _last_progress(job_dir / EVENTS_FILE)
        pid = status.get("pid")
        if pid is None and state == "running":
            worker = self._workers.get(job_dir.name)
            pid = worker.popen.pid if worker is not None else None
        return JobStatus(
            id=job["id"], kind=job["kind"], owner=job.get("owner", ""), label=job.get("label", ""), state=state,
            created=job["created"], started=status.get("started"), finished=status.get("finished"),
            error=status.get("error", ""), traceback=_read_text(job_dir / TRACEBACK_FILE), result=result,
            progress=progress, pid=pid, params=job.get("params", {}),
            cancel_requested=(job_dir / CANCEL_FILE).exists(),
        )

    # ------------------------------------------------------------------ state changes on disk

    @contextmanager
    def _disk_lock(self) -> Iterator[None]:
        """Exclusive across threads and processes (each call opens its own file description)."""
        with open(self.ws.jobs / LOCK_FILE, "ab") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield

    def _mark_if_active(self, job_dir: Path, state: str, error: str, **extra: Any) -> bool:
        """Move a queued/running job to a final ``state``; False if it had already finished."""
        with self._disk_lock():
            status = read_json(job_dir / STATUS_FILE)
            if status["state"] not in ACTIVE_STATES:
                return False
            status.update(state=state, error=error, finished=time.time(),
                          progress=_last_progress(job_dir / EVENTS_FILE), **extra)
            atomic_write_json(job_dir / STATUS_FILE, status)
        logger.info("job %s: %s (%s)", job_dir.name, state, error)
        return True

    def _interrupt_if_orphaned(self, job_dir: Path) -> None:
        """Mark an active job interrupted if the manager that owns it is gone (stopping an orphaned worker)."""
        status = read_json(job_dir / STATUS_FILE)
        manager = status.get("manager") or {}
        if manager.get("id") == self._me["id"] or _identity_alive(manager):
            return  # its manager is alive and will settle it
        pid = status.get("pid")
        if status["state"] == "running" and _same_process(pid, status.get("pid_start")) and _is_worker_of(
            pid, job_dir
        ):
            logger.warning("stopping orphaned worker %d of job %s", pid, job_dir.name)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        reason = INTERRUPTED_RUNNING if status["state"] == "running" else INTERRUPTED_QUEUED
        self._mark_if_active(job_dir, "interrupted", reason)

    def _recover(self) -> None:
        """After a restart: settle jobs whose manager is gone and clean up half-written files."""
        now = time.time()
        for path in self.ws.jobs.iterdir():
            if path.name.endswith(".tmpdir") and path.is_dir() and now - path.stat().st_mtime > _STALE_TMPDIR_S:
                for child in path.iterdir():
                    child.unlink()
                path.rmdir()  # a submit that crashed before its job folder was renamed into place
        for job_id in sorted(p.name for p in self.ws.jobs.iterdir() if _JOB_ID.match(p.name)):
            job_dir = self.ws.jobs / job_id
            try:
                status = self.get(job_id)
            except TlcoreError as e:
                logger.warning("not recovering a job: %s", e)
                continue
            if not status.active:
                with self._disk_lock():
                    removed = remove_stale_temp_files(job_dir)
                if removed:
                    logger.info("removed %d stale temp file(s) in %s", removed, job_dir)
        remove_stale_fill_files(self.ws)  # a killed fill's rows file can be gigabytes

    # ------------------------------------------------------------------ supervisor

    def _new_id(self) -> str:
        us = max(time.time_ns() // 1000, self._last_us + 1)  # strictly increasing within this manager
        self._last_us = us
        seconds, micros = divmod(us, 1_000_000)
        return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(seconds))}-{micros:06d}-{secrets.token_hex(3)}"

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
                self._enforce_cancel(job_id, worker, now)
                continue
            del self._workers[job_id]
            self._finish(job_id, worker)

    def _enforce_cancel(self, job_id: str, worker: _Worker, now: float) -> None:
        if worker.cancel_deadline is None:
            if (self.ws.jobs / job_id / CANCEL_FILE).exists():
                worker.cancel_deadline = now + self._cancel_grace
        elif worker.terminated_at is None and now >= worker.cancel_deadline:
            logger.warning("job %s did not stop within %g s of cancel; terminating it", job_id, self._cancel_grace)
            worker.popen.terminate()
            worker.terminated_at = now
        elif worker.terminated_at is not None and not worker.killed and now >= worker.terminated_at + self._kill_grace:
            logger.warning("job %s ignored SIGTERM; killing it", job_id)
            worker.popen.kill()
            worker.killed = True

    def _finish(self, job_id: str, worker: _Worker, interrupted: str = "") -> None:
        """Settle a job whose worker process has exited, if the worker could not report a final state."""
        job_dir = self.ws.jobs / job_id
        returncode = worker.popen.returncode
        if (job_dir / CANCEL_FILE).exists():
            state, error = "cancelled", "cancelled by the user"
            if worker.terminated_at is not None:
                error += f"; the worker did not stop within {self._cancel_grace:g} s and was terminated"
        elif interrupted:
            state, error = "interrupted", interrupted
        else:
            state, error = "failed", describe_exit(returncode)
        if self._mark_if_active(job_dir, state, error, exit_code=returncode):
            log = _log_tail(job_dir / LOG_FILE)
            if log and not (job_dir / TRACEBACK_FILE).exists():
                atomic_write_text(job_dir / TRACEBACK_FILE, f"{error}\n\nlast lines of {LOG_FILE}:\n{log}")

    def _start_queued(self) -> None:
        while self._queue and len(self._workers) < self.max_running:
            job_id = self._queue.popleft()
            job_dir = self.ws.jobs / job_id
            with self._disk_lock():
                status = read_json(job_dir / STATUS_FILE)
                if status["state"] != "queued":
                    continue  # cancelled while it waited
                status.update(state="running", started=time.time(), manager=self._me)
                atomic_write_json(job_dir / STATUS_FILE, status)
                try:
                    popen = self._spawn(job_dir)
                except OSError as e:
                    status.update(state="failed", error=f"could not start a worker process: {e}", finished=time.time())
                    atomic_write_json(job_dir / STATUS_FILE, status)
                    logger.error("could not start job %s: %s", job_id, e)
                    continue
            self._workers[job_id] = _Worker(popen)
            logger.info("started job %s in worker pid %d", job_id, popen.pid)

    def _spawn(self, job_dir: Path) -> subprocess.Popen:
        env = os.environ | allocator_env() | {PARENT_ENV: str(os.getpid())}
        package_root = str(Path(__file__).resolve().parent.parent)  # so the worker imports this very tlcore
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        with open(job_dir / LOG_FILE, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "tlcore.jobs.manager", "run", str(job_dir)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=False,
            )

    @staticmethod
    def _stop_worker(popen: subprocess.Popen, grace: float = 3.0) -> None:
        if popen.poll() is not None:
            return
        popen.terminate()
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


# ---------------------------------------------------------------------------------------------- worker


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when the server dies; exit now if the server is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            ok = libc.prctl(pr_set_pdeathsig, ctypes.c_ulong(signal.SIGTERM), ctypes.c_ulong(0), ctypes.c_ulong(0),
                            ctypes.c_ulong(0)) == 0
        except (OSError, AttributeError):
            ok = False
        if not ok:
            logger.warning("could not set PR_SET_PDEATHSIG; this worker may outlive the server")
    expected = os.environ.get(PARENT_ENV)
    if expected and os.getppid() != int(expected):
        logger.error("the job manager (pid %s) exited before this worker started; stopping", expected)
        raise SystemExit(4)


def _run_task(job: dict, job_dir: Path, on_event: EventCallback, cancel: CancelToken) -> dict[str, str]:
    """Run the job's task; return the final ``state`` and ``error`` for status.json."""
    kind = job.get("kind")
    task = TASKS.get(kind) if isinstance(kind, str) else None
    if task is None:
        known = ", ".join(sorted(TASKS))
        return {"state": "failed", "error": f"unknown job kind {kind!r} in {job_dir / JOB_FILE}; known kinds: {known}"}
    try:
        ws = Workspace(job["workspace"])
        result = task(dict(job.get("params") or {}), ws, on_event, cancel)
        if not isinstance(result, dict):
            raise TypeError(f"task {kind!r} returned {type(result).__name__}, not a dict")
        atomic_write_json(job_dir / RESULT_FILE, result)
    except Cancelled as e:
        return {"state": "cancelled", "error": str(e)}
    except TlcoreError as e:
        return {"state": "failed", "error": str(e)}
    except Exception as e:  # noqa: BLE001 — recorded: message for the user, traceback kept for debugging
        atomic_write_text(job_dir / TRACEBACK_FILE, traceback.format_exc())
        logger.exception("job %s (%s) raised", job_dir.name, kind)
        return {"state": "failed", "error": f"internal error: {type(e).__name__}: {e}"}
    if cancel.cancelled:
        return {"state": "cancelled", "error": "cancelled by the user after the task had finished; its result was kept"}
    return {"state": "done", "error": ""}


def run_worker(job_dir: str | Path) -> int:
    """Run the job in ``job_dir`` in this process (the body of ``python -m tlcore.jobs run``); exit code 0
    whenever a final state was written."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's business
    job_dir = Path(job_dir).resolve()
    job = read_json(job_dir / JOB_FILE)
    status_path = job_dir / STATUS_FILE
    status = read_json(status_path)
    pid = os.getpid()
    status.update(state="running", pid=pid, pid_start=_process_start(pid), started=status.get("started") or time.time())
    atomic_write_json(status_path, status)
    cancel = CancelToken(flag_file=job_dir / CANCEL_FILE)
    last_progress: dict | None = None
    with open(job_dir / EVENTS_FILE, "a", encoding="utf-8") as events_file:

        def on_event(event: Event) -> None:
            nonlocal last_progress
            data = event_to_dict(event)
            events_file.write(json.dumps(data, ensure_ascii=False) + "\n")
            events_file.flush()
            if data.get("kind") in PROGRESS_KINDS:
                last_progress = data

        outcome = _run_task(job, job_dir, on_event, cancel)
    status.update(outcome, finished=time.time(), progress=last_progress)
    atomic_write_json(status_path, status)
    logger.info("job %s: %s %s", job_dir.name, outcome["state"], outcome["error"])
    return 0


def main(argv: list[str]) -> int:
    """``python -m tlcore.jobs run <job_dir>``."""
    if len(argv) != 2 or argv[0] != "run":
        print("usage: python -m tlcore.jobs run <job_dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
