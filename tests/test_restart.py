"""The server killed mid-job and started again: the job shows as interrupted, the run store is consistent, no temp
files are left, and earlier runs are intact byte for byte (issue 6, "Faults")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlcore.jobs import JobManager
from tlcore.workspace import Workspace


def _until(check, timeout: float, what: str):
    """Poll ``check()`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")
    monkeypatch.setenv("TLCORE_THREADS", "1")
    return Workspace(tmp_path / "ws")


def test_a_run_folder_left_by_a_dead_but_unreaped_writer_is_removed(ws):
    # a worker killed with its server is a zombie until someone reaps it; it can write nothing any more
    from tlcore.store import reconcile

    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        _until(lambda: Path(f"/proc/{writer.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 30,
               "the writer to exit (unreaped)")
        staging = ws.tmp / f"run-20250101-000000-abcdef.{writer.pid}.tmp"
        staging.mkdir()
        (staging / "model.safetensors").write_bytes(b"half")
        live = ws.tmp / f"run-20250101-000000-fedcba.{os.getpid()}.tmp"  # this process is still writing it
        live.mkdir()
        reconcile(ws)
        assert list(ws.tmp.iterdir()) == [live]
    finally:
        writer.wait()


def test_a_restart_leaves_the_temp_file_of_a_cache_fill_in_progress_alone(ws):
    import fcntl

    entry = ws.cache / "0123456789abcdef01234567"
    entry.mkdir()
    rows = entry / ".rows-a1b2c3.npy.tmp"
    rows.write_bytes(b"rows being written")
    with open(entry / ".lock", "a+b") as lock:  # another process filling this entry holds its lock
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        JobManager(ws).close()
        assert rows.read_bytes() == b"rows being written"
    JobManager(ws).close()  # the filler is gone: its temp file is stale
    assert not rows.exists() and (entry / ".lock").is_file()
