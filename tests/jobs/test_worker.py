"""Tests for tlcore.jobs.worker (running one job in this process) and tlcore.jobs.spawn (its command line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jobs.conftest import until
from tlcore.atomic import atomic_write_json, read_json
from tlcore.events import CancelToken, Message
from tlcore.jobs import registry
from tlcore.jobs.registry import JobKind
from tlcore.jobs.spawn import describe_exit, is_worker_of, worker_command
from tlcore.jobs.worker import run_task
from tlcore.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.mark.slow  # a worker process
def test_worker_refuses_a_kind_that_is_not_in_the_registry(ws: Workspace) -> None:
    job_dir = ws.jobs / "20250101-000000-000000-abcdef"
    job_dir.mkdir()
    atomic_write_json(job_dir / "job.json", {"id": job_dir.name, "kind": "os.system", "params": {}, "owner": "",
                                             "label": "", "created": 0.0, "workspace": str(ws.root)})
    atomic_write_json(job_dir / "status.json", {"state": "running", "created": 0.0})
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run(worker_command(job_dir), env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    status = read_json(job_dir / "status.json")
    assert status["state"] == "failed"
    assert status["error"].startswith(f"unknown job kind 'os.system' in {job_dir / 'job.json'}; known kinds: ")
    assert "selftest" in status["error"]  # the worker loaded the plugins named in TLCORE_PLUGINS
    assert not (job_dir / "result.json").exists()


def test_the_worker_command_runs_the_worker_module_and_is_recognised(tmp_path: Path) -> None:
    command = worker_command(tmp_path / "job")
    assert command[1:] == ["-m", "tlcore.jobs.worker", "run", str((tmp_path / "job").resolve())]
    assert not is_worker_of(os.getpid(), tmp_path / "job")  # this process is pytest, not that job's worker
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *command[1:]])
    try:
        until(lambda: is_worker_of(sleeper.pid, tmp_path / "job"), what="the command line after exec")
        assert not is_worker_of(sleeper.pid, tmp_path / "other")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_describe_exit_names_the_signal_or_the_code() -> None:
    assert describe_exit(3) == "worker process exited with code 3 without reporting a result"
    assert describe_exit(-9) == "worker process died (killed by signal 9, SIGKILL — out of memory?)"
    assert describe_exit(-15) == "worker process died (killed by signal 15, SIGTERM)"


def _job(ws: Workspace, kind: str) -> dict:
    return {"id": "x", "kind": kind, "params": {}, "workspace": str(ws.root)}


def test_task_that_finishes_despite_cancel_is_cancelled_with_its_result_kept(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deaf = JobKind("deaf", lambda params, ws, on_event, cancel: {"saved": "run-1"})
    monkeypatch.setitem(registry._KINDS, "deaf", deaf)
    cancel = CancelToken(flag_file=tmp_path / "cancel")
    cancel.cancel()
    outcome = run_task(_job(ws, "deaf"), tmp_path, lambda event: None, cancel)
    assert outcome == {"state": "cancelled",
                       "error": "cancelled by the user after the task had finished; its result was kept"}
    assert read_json(tmp_path / "result.json") == {"saved": "run-1"}


def test_task_returning_a_non_dict_is_an_internal_error(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    def broken(params, ws, on_event, cancel):
        on_event(Message("hello"))
        return ["not", "a", "dict"]
    monkeypatch.setitem(registry._KINDS, "broken", JobKind("broken", broken))
    outcome = run_task(_job(ws, "broken"), tmp_path, seen.append, CancelToken())
    assert outcome == {"state": "failed", "error": "internal error: TypeError: task 'broken' returned list, not a dict"}
    assert seen == [Message("hello")]
    assert "TypeError" in (tmp_path / "traceback.txt").read_text()
    assert not (tmp_path / "result.json").exists()
