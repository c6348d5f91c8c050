"""Worker processes as their manager sees them: the command line, spawning, cancel deadlines, stopping, exit reasons.

The worker's own side (what runs inside the process) is :mod:`tlcore.jobs.worker`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tlcore.jobs.folders import LOG_FILE
from tlcore.runtime.allocator import allocator_env
from tlcore.runtime.processes import process_cmdline

logger = logging.getLogger(__name__)

WORKER_MODULE = "tlcore.jobs.worker"  # what a worker's command line runs with ``-m``
PARENT_ENV = "TLCORE_JOB_PARENT_PID"  # the pid of the manager's process, set by the manager for its workers
_REPO_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this very tlcore package


def worker_command(job_dir: Path) -> list[str]:
    """The command line of the worker for ``job_dir`` (made absolute), with this very Python."""
    return [sys.executable, "-m", WORKER_MODULE, "run", str(Path(job_dir).resolve())]


def is_worker_of(pid: int, job_dir: Path) -> bool:
    """True if process ``pid`` is the worker of ``job_dir`` (its command line ends like :func:`worker_command`'s)."""
    cmdline = process_cmdline(pid)
    return cmdline is not None and cmdline[-3:] == worker_command(job_dir)[-3:]


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


@dataclass
class Worker:
    """A worker process a manager spawned, and where its cancellation stands."""

    popen: subprocess.Popen
    cancel_deadline: float | None = None  # monotonic time after which a cancelled worker is terminated
    terminated_at: float | None = None
    killed: bool = False

    def enforce_cancel(self, cancel_asked: bool, now: float, cancel_grace: float, kill_grace: float,
                       job_id: str) -> None:
        """Once cancel was asked: ``cancel_grace`` s to stop, then SIGTERM, then SIGKILL ``kill_grace`` s later."""
        if self.cancel_deadline is None:
            if cancel_asked:
                self.cancel_deadline = now + cancel_grace
        elif self.terminated_at is None and now >= self.cancel_deadline:
            logger.warning("job %s did not stop within %g s of cancel; terminating it", job_id, cancel_grace)
            self.popen.terminate()
            self.terminated_at = now
        elif self.terminated_at is not None and not self.killed and now >= self.terminated_at + kill_grace:
            logger.warning("job %s ignored SIGTERM; killing it", job_id)
            self.popen.kill()
            self.killed = True

    def stop(self, grace: float = 3.0) -> None:
        """Terminate the worker now, and kill it if it is still there after ``grace`` s."""
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def spawn_worker(job_dir: Path) -> Worker:
    """Start the worker of ``job_dir``, its output going to the job's ``worker.log``.

    The worker gets this process's environment, the malloc settings of :func:`allocator_env`, this process's pid
    (so it can tell if it outlived its parent) and ``PYTHONPATH`` led by this tlcore, so it runs the same code.
    Call it only from a long-lived thread: the worker gets SIGTERM when the thread that spawned it ends.

    Raises:
        OSError: the process could not be started.
    """
    env = os.environ | allocator_env() | {PARENT_ENV: str(os.getpid())}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    with open(job_dir / LOG_FILE, "ab") as log:
        return Worker(subprocess.Popen(worker_command(job_dir), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=False))
