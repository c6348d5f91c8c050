"""Tests for tlcore.jobs.manager (the background job manager), driven by the test plugin's selftest kind
(tests/plugins/jobs.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.jobs.conftest import alive, snapshot, until
from tlcore.atomic import read_json
from tlcore.errors import TlcoreError
from tlcore.jobs.manager import JobManager, JobNotFound, JobStatus
from tlcore.workspace import Workspace

pytestmark = pytest.mark.slow  # every test here runs job workers (subprocesses)

REPO = Path(__file__).resolve().parents[2]
CHECKSUM_6 = 569481  # selftest checksum for steps=6: fold of (c * 31 + step) % 1_000_003 over steps 1..6


def _running_with_progress(manager: JobManager, job_id: str) -> JobStatus | None:
    status = manager.get(job_id)
    return status if status.state == "running" and status.progress and status.progress["done"] >= 1 else None


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture()
def manager(ws: Workspace):
    with JobManager(ws, cancel_grace=10.0, kill_grace=3.0, poll_interval=0.05) as m:
        yield m


@pytest.fixture()
def impatient(ws: Workspace):
    """A manager that terminates a cancelled worker after 0.5 s (and SIGKILLs it 0.5 s after SIGTERM)."""
    with JobManager(ws, cancel_grace=0.5, kill_grace=0.5, poll_interval=0.05) as m:
        yield m


def test_job_runs_to_done_and_another_manager_sees_it(ws: Workspace, manager: JobManager) -> None:
    job_id = manager.submit("selftest", {"steps": 6, "delay": 0.05, "echo": {"tab": 1}}, owner="alice", label="smoke")
    with JobManager(ws, poll_interval=0.05) as other:  # another browser tab: same workspace, new manager
        status = other.wait(job_id, timeout=30)
        assert status.state == "done"
        assert status.error == "" and status.traceback == ""
        assert status.result == {"steps": 6, "checksum": CHECKSUM_6, "echo": {"tab": 1}, "pid": status.pid}
        assert (status.kind, status.owner, status.label) == ("selftest", "alice", "smoke")
        assert status.params == {"steps": 6, "delay": 0.05, "echo": {"tab": 1}}
        assert status.created <= status.started <= status.finished
        assert status.progress["kind"] == "progress" and (status.progress["done"], status.progress["total"]) == (6, 6)
        until(lambda: not alive(status.pid), what="the worker to exit after its last status")

        events = other.events(job_id)
        assert [e["index"] for e in events] == list(range(len(events)))
        assert events[0]["kind"] == "message" and f"pid {status.pid}" in events[0]["text"]
        assert events[1] == {"kind": "phase", "phase": "selftest", "total": 6, "message": "", "index": 1}
        done_counts = [e["done"] for e in events if e["kind"] == "progress"]
        assert done_counts == sorted(done_counts) and done_counts[-1] == 6
        assert other.events(job_id, since=2) == events[2:]
        assert other.events(job_id, since=len(events)) == []

        assert manager.get(job_id) == status
        assert [s.id for s in other.list(owner="alice")] == [job_id]
        assert other.list(owner="bob") == []
        assert not other.get(job_id).active


def test_submit_refuses_unknown_kind_bad_params_and_unknown_ids(manager: JobManager) -> None:
    with pytest.raises(TlcoreError, match="unknown job kind 'os.system'; known kinds: .*selftest"):
        manager.submit("os.system", {})
    with pytest.raises(TlcoreError, match="plain JSON data"):
        manager.submit("selftest", {"echo": object()})
    for bad in ("../../etc", "nope", "20250101-000000-000000-abcdef"):
        with pytest.raises(JobNotFound, match="no job"):
            manager.get(bad)
    assert manager.list() == []


def test_bad_selftest_setting_fails_with_a_message_naming_it(manager: JobManager) -> None:
    status = manager.wait(manager.submit("selftest", {"steps": -1}), timeout=30)
    assert status.state == "failed"
    assert status.error == "selftest: setting 'steps' must be a whole number from 0 to 100000, got -1"
    assert status.result is None


def test_fail_reports_the_tasks_message(manager: JobManager) -> None:
    status = manager.wait(manager.submit("selftest", {"steps": 4, "delay": 0.01, "fail": "disk is full"}), 30)
    assert status.state == "failed"
    assert status.error == "selftest failed on purpose at step 2: disk is full"
    assert status.result is None and status.traceback == ""


def test_internal_error_keeps_the_traceback_out_of_the_message(manager: JobManager) -> None:
    status = manager.wait(manager.submit("selftest", {"steps": 4, "delay": 0.01, "crash": "raise"}), 30)
    assert status.state == "failed"
    assert status.error == "internal error: RuntimeError: selftest raised an unexpected error at step 2 as asked"
    assert "Traceback" not in status.error
    assert status.traceback.startswith("Traceback") and "tests/plugins/jobs.py" in status.traceback


@pytest.mark.parametrize(
    ("crash", "reason"),
    [
        ("exit", "worker process exited with code 3 without reporting a result"),
        ("kill", "worker process died (killed by signal 9, SIGKILL — out of memory?)"),
    ],
)
def test_crashed_worker_is_failed_with_the_reason_and_the_next_job_runs(
    manager: JobManager, crash: str, reason: str
) -> None:
    crashed = manager.submit("selftest", {"steps": 10, "delay": 0.01, "at": 5, "crash": crash})
    after = manager.submit("selftest", {"steps": 6, "delay": 0.01})
    status = manager.wait(crashed, timeout=30)
    assert status.state == "failed"
    assert status.error == reason
    assert status.result is None
    assert read_json(manager.ws.jobs / crashed / "status.json")["exit_code"] == (3 if crash == "exit" else -9)
    second = manager.wait(after, timeout=30)
    assert second.state == "done" and second.result["checksum"] == CHECKSUM_6


def test_cancel_stops_a_running_job(manager: JobManager) -> None:
    job_id = manager.submit("selftest", {"steps": 400, "delay": 0.05})
    running = until(lambda: _running_with_progress(manager, job_id), what="the job to report progress")
    assert manager.cancel(job_id).cancel_requested
    status = manager.wait(job_id, timeout=20)
    assert status.state == "cancelled"
    assert status.error == "cancelled by the user"
    assert status.result is None
    assert status.progress["done"] < 400
    until(lambda: not alive(running.pid), what="the cancelled worker to exit")
    assert manager.cancel(job_id).state == "cancelled"  # cancelling a finished job changes nothing


@pytest.mark.parametrize(("hang", "exit_code"), [(True, -signal.SIGTERM), ("hard", -signal.SIGKILL)])
def test_cancel_terminates_a_worker_that_ignores_it(impatient: JobManager, hang: bool | str, exit_code: int) -> None:
    job_id = impatient.submit("selftest", {"steps": 4, "delay": 0.01, "at": 1, "hang": hang})
    until(lambda: any("hanging" in e.get("text", "") for e in impatient.events(job_id)), what="the hang to begin")
    pid = impatient.get(job_id).pid
    impatient.cancel(job_id)
    status = impatient.wait(job_id, timeout=20)
    assert status.state == "cancelled"
    assert status.error == "cancelled by the user; the worker did not stop within 0.5 s and was terminated"
    assert status.result is None
    assert read_json(impatient.ws.jobs / job_id / "status.json")["exit_code"] == exit_code  # SIGKILL if SIGTERM ignored
    assert not alive(pid)


def test_jobs_queue_in_order_and_each_owner_sees_its_own(manager: JobManager) -> None:
    first = manager.submit("selftest", {"steps": 400, "delay": 0.05}, owner="a")
    second = manager.submit("selftest", {"steps": 3, "delay": 0.01, "echo": 2}, owner="b")
    dropped = manager.submit("selftest", {"steps": 3, "delay": 0.01}, owner="b")
    third = manager.submit("selftest", {"steps": 3, "delay": 0.01, "echo": 3}, owner="a")
    until(lambda: _running_with_progress(manager, first), what="the first job to run")
    assert [manager.get(j).state for j in (second, dropped, third)] == ["queued"] * 3

    cancelled = manager.cancel(dropped)
    assert (cancelled.state, cancelled.error) == ("cancelled", "cancelled by the user before it started")
    assert cancelled.started is None and cancelled.pid is None
    manager.cancel(first)
    s1, s2, s3 = (manager.wait(j, timeout=30) for j in (first, second, third))
    assert (s1.state, s2.state, s3.state) == ("cancelled", "done", "done")
    assert (s2.result["echo"], s3.result["echo"]) == (2, 3)
    assert s1.finished <= s2.started <= s2.finished <= s3.started  # one at a time, first come first served
    assert manager.get(dropped).started is None

    assert [s.id for s in manager.list()] == [third, dropped, second, first]  # ids sort by time: newest first
    assert [s.id for s in manager.list(owner="a")] == [third, first]
    assert [s.id for s in manager.list(owner="b")] == [dropped, second]


_SERVER = """
import sys, time
import tlcore.runtime
tlcore.runtime.setup()  # as every entry point does: loads the test plugins, so "selftest" is a known kind
from tlcore.jobs.manager import JobManager
from tlcore.workspace import Workspace
m = JobManager(Workspace(sys.argv[1]), poll_interval=0.05)
running = m.submit("selftest", {"steps": 2000, "delay": 0.05}, owner="ghost")
waiting = m.submit("selftest", {"steps": 1}, owner="ghost")
print(running, waiting, flush=True)
time.sleep(120)
"""


def test_server_death_kills_the_worker_and_a_new_manager_reports_interrupted(ws: Workspace) -> None:
    with JobManager(ws, poll_interval=0.05) as earlier:
        kept = [earlier.submit("selftest", {"steps": 3, "delay": 0.01}), earlier.submit("selftest", {"fail": "x"})]
        assert [earlier.wait(j, timeout=30).state for j in kept] == ["done", "failed"]
    before = {j: snapshot(ws.jobs / j) for j in kept}

    env = os.environ | {"PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(ws.root)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        running, waiting = server.stdout.readline().split()
        with JobManager(ws, poll_interval=0.05) as observer:  # constructed while the server lives: leaves its jobs
            status = until(lambda: _running_with_progress(observer, running), what="the server's job to run")
            assert observer.get(waiting).state == "queued"
        worker = status.pid
        assert alive(worker)
        (ws.jobs / running / ".status.json.half.tmp").write_text("{half")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        until(lambda: not alive(worker), what="the worker to die with the server")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()

    with JobManager(ws) as after:
        s_running, s_waiting = after.get(running), after.get(waiting)
    assert (s_running.state, s_running.error) == ("interrupted", "the server stopped while this job was running")
    assert s_running.finished is not None and s_running.progress["done"] >= 1
    assert (s_waiting.state, s_waiting.error) == ("interrupted", "the server stopped before this job started")
    assert list(ws.jobs.rglob("*.tmp")) == []
    assert {j: snapshot(ws.jobs / j) for j in kept} == before


def test_two_managers_submitting_at_once_keep_their_results_apart(ws: Workspace) -> None:
    managers = {name: JobManager(ws, max_running=2, poll_interval=0.05) for name in ("left", "right")}
    submitted: dict[str, list[tuple[str, int, str]]] = {name: [] for name in managers}
    start = threading.Barrier(len(managers))

    def submit_three(name: str) -> None:
        start.wait()
        for i in range(3):
            steps, echo = 2 + i + (3 if name == "right" else 0), f"{name}-{i}"
            submitted[name].append((managers[name].submit("selftest", {"steps": steps, "echo": echo}, owner=name),
                                    steps, echo))

    threads = [threading.Thread(target=submit_three, args=(name,)) for name in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        all_ids = [job_id for jobs in submitted.values() for job_id, _, _ in jobs]
        assert len(set(all_ids)) == 6
        for name, jobs in submitted.items():
            for job_id, steps, echo in jobs:
                status = managers["left"].wait(job_id, timeout=30)
                assert status.state == "done" and status.owner == name
                assert (status.result["steps"], status.result["echo"]) == (steps, echo)
                assert status.progress["total"] == steps
                assert [e["total"] for e in managers["right"].events(job_id) if e["kind"] == "phase"] == [steps]
            assert {s.id for s in managers[name].list(owner=name)} == {job_id for job_id, _, _ in jobs}
    finally:
        for m in managers.values():
            m.close()


def test_a_damaged_job_folder_is_named_and_left_out_of_the_list(manager: JobManager) -> None:
    good = manager.submit("selftest", {"steps": 1, "delay": 0.0})
    bad = manager.submit("selftest", {"steps": 1, "delay": 0.0})
    assert manager.wait(good, 30).state == "done" and manager.wait(bad, 30).state == "done"
    (manager.ws.jobs / bad / "job.json").write_text("{not json")
    fresh = JobManager(manager.ws)  # a new manager: nothing cached, and its recovery skips the damaged folder
    try:
        with pytest.raises(TlcoreError, match=f"job folder .*{bad} is damaged"):
            fresh.get(bad)
        assert [s.id for s in fresh.list()] == [good]
    finally:
        fresh.close()
