"""The job worker: ``python -m tlcore.jobs.worker run <job_dir>`` runs one job in this process and records it.

The manager (:mod:`tlcore.jobs.manager`) spawns one worker per job. The worker first calls
:func:`tlcore.runtime.setup` (malloc and thread tuning, and the plugins named in ``TLCORE_PLUGINS``, which may
register more job kinds), then asks Linux to end it with its parent (``PR_SET_PDEATHSIG``), marks the job running
with its own pid, runs the kind's function and writes the final state. It writes ``status.json`` only for its own
job; a worker that cannot (killed, crashed) leaves that to the manager.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import tlcore.jobs.kinds  # noqa: F401  (registers the built-in kinds; light)
from tlcore.atomic import atomic_write_json, atomic_write_text
from tlcore.errors import Cancelled, TlcoreError
from tlcore.events import CancelToken, Event, EventCallback, event_to_dict
from tlcore.jobs.folders import (
    CANCEL_FILE, EVENTS_FILE, JOB_FILE, PROGRESS_KINDS, RESULT_FILE, TRACEBACK_FILE, read_job, read_state, write_state,
)
from tlcore.jobs.registry import UnknownJobKind, get_kind
from tlcore.jobs.spawn import PARENT_ENV, WORKER_MODULE
from tlcore.runtime import setup
from tlcore.runtime.processes import process_start
from tlcore.workspace import Workspace

logger = logging.getLogger(__name__)

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


def run_task(job: dict, job_dir: Path, on_event: EventCallback, cancel: CancelToken) -> dict[str, str]:
    """Run the job's kind; return the final ``state`` and ``error`` for status.json (the result is written)."""
    kind = job.get("kind")
    try:
        run = get_kind(kind, source=str(job_dir / JOB_FILE)).run
    except UnknownJobKind as e:
        return {"state": "failed", "error": str(e)}
    try:
        ws = Workspace(job["workspace"])
        result = run(dict(job.get("params") or {}), ws, on_event, cancel)
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
    """Run the job in ``job_dir`` in this process; exit code 0 whenever a final state was written."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's business
    job_dir = Path(job_dir).resolve()
    job = read_job(job_dir)
    status = read_state(job_dir)
    pid = os.getpid()
    status.update(state="running", pid=pid, pid_start=process_start(pid), started=status.get("started") or time.time())
    write_state(job_dir, status)
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

        outcome = run_task(job, job_dir, on_event, cancel)
    status.update(outcome, finished=time.time(), progress=last_progress)
    write_state(job_dir, status)
    logger.info("job %s: %s %s", job_dir.name, outcome["state"], outcome["error"])
    return 0


def main(argv: list[str]) -> int:
    """``python -m tlcore.jobs.worker run <job_dir>``: set the process up, then run the job."""
    setup()  # first: malloc/thread tuning before torch loads, and the plugins' job kinds
    if len(argv) != 2 or argv[0] != "run":
        print(f"usage: python -m {WORKER_MODULE} run <job_dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
