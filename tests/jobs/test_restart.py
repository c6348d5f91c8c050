"""The server killed mid-job and started again: the job shows as interrupted, the run store is consistent, no temp
files are left, and earlier runs are intact byte for byte (issue 6, "Faults")."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from tests.jobs.conftest import alive, snapshot, until
from tests.synthetic import write_class_folder
from tests.conftest import tiny_config
from tlcore.data import import_folder, load_dataset
from tlcore.data.augment import eval_transform
from tlcore.jobs.manager import INTERRUPTED_RUNNING, JobManager
from tlcore.models.inference import predict_stored
from tlcore.runs.records import list_runs
from tlcore.runs.store import load_run
from tlcore.train.config import config_to_dict
from tlcore.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
OWNER = "restart-owner"

_SERVER = """
import json, sys, time
from tlcore.jobs.manager import JobManager
from tlcore.workspace import Workspace
manager = JobManager(Workspace(sys.argv[1]), poll_interval=0.05)
print(manager.submit("train", json.loads(sys.argv[2]), owner=sys.argv[3], label="long training"), flush=True)
time.sleep(600)
"""


def _index_rows(ws: Workspace) -> list[tuple]:
    """The run index as stored, read without :func:`list_runs` (which fills gaps from the run folders)."""
    with closing(sqlite3.connect(ws.index_db)) as con:
        return sorted(con.execute("SELECT * FROM runs").fetchall())


def _temp_files(root: Path) -> list[str]:
    """Everything below ``root`` named like a temp file: atomic writes (``.x.tmp``), run and job staging
    folders (``run-<id>.<pid>.tmp``, ``.<job>.tmpdir``), cache fills (``.rows-*.npy.tmp``), SQLite journals."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if ".tmp" in p.name or p.name.endswith(("-journal", "-wal")))


def _test_probs(ws: Workspace, run_id: str) -> np.ndarray:
    """The saved run, loaded afresh, predicting its test split."""
    run = load_run(ws, run_id)
    dataset = load_dataset(ws, run.dataset_id)
    hashes = [dataset.hashes[i] for i in run.split.test]
    return predict_stored(run.model, ws, hashes, eval_transform(run.data_config, run.image_size))


def _epoch_running(observer: JobManager, job_id: str):
    status = observer.get(job_id)
    return status if status.state == "running" and (status.progress or {}).get("kind") == "epoch" else None


def _plant_half_written_files(ws: Workspace, job_dir: Path, worker_pid: int) -> list[Path]:
    """What a kill in the middle of a write leaves: an atomic write's temp file (job status, cache meta), a cache
    fill's memory-mapped rows file, and a run folder being assembled in ``ws.tmp`` by the dead worker."""
    entry = next(p for p in ws.cache.iterdir() if (p / "meta.json").is_file())
    staging = ws.tmp / f"run-20250101-000000-abcdef.{worker_pid}.tmp"
    staging.mkdir()
    planted = [job_dir / ".status.json.k3j2x9.tmp", entry / ".meta.json.q8w7e6.tmp", entry / ".rows-z1y2x3.npy.tmp",
               staging / "model.safetensors"]
    for path in planted:
        path.write_bytes(b"half")
    return planted


def _start_server(ws: Workspace, params: dict) -> tuple[subprocess.Popen, str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(ws.root), json.dumps(params), OWNER],
                              stdout=subprocess.PIPE, env=env, text=True)
    return server, server.stdout.readline().strip()


def _app_after_restart(ws: Workspace, dataset_id: str, monkeypatch: pytest.MonkeyPatch):
    """The Train page of a freshly started app, for the browser session that owned the jobs."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TLCORE_WORKSPACE", str(ws.root))
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["tl_owner"] = OWNER
    at.session_state["tl_dataset_id"] = dataset_id
    at.run()
    at.switch_page("pages/3_Train.py").run()
    return at


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("TLCORE_THREADS", "1")
    return Workspace(tmp_path / "ws")


@pytest.mark.slow  # a server process and training job workers
def test_server_killed_mid_training_restarts_clean_with_earlier_runs_intact(ws, tmp_path, monkeypatch):
    """End to end with real training jobs: a workspace holds a finished run saved through the train job (as the app
    does it); a "server" process owning a JobManager starts a second, long training and is SIGKILLed while epochs
    run. A kill can land in the middle of any write, so what such a kill leaves (an atomic write's temp file in the
    job folder and in a cache entry, a cache fill's rows file, a run folder being assembled in ``ws.tmp``) is planted
    beside the real leftovers before the restart. After it: the job is "interrupted" with its reason, the run store
    matches the folders, no temp file is left anywhere, the earlier run is byte for byte what it was and predicts
    the same, and the restarted app shows the interrupted job."""
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=8, size=24), name="colours")
    with JobManager(ws, poll_interval=0.05) as earlier:  # a finished, saved run from an earlier server
        first = earlier.submit("train", {"dataset_id": dataset.id, "config": config_to_dict(tiny_config(epochs=2))},
                               owner=OWNER, label="short training")
        status = earlier.wait(first, timeout=180)
    assert status.state == "done", status.error
    run_id = status.result["run_id"]
    run_bytes = snapshot(ws.runs / run_id)
    assert sorted(run_bytes) == ["model.safetensors", "run.json", "test_probs.npy"]
    index = _index_rows(ws)
    assert [row[0] for row in index] == [run_id] and [r.id for r in list_runs(ws)] == [run_id]
    probs = _test_probs(ws, run_id)
    np.testing.assert_allclose(probs, np.load(ws.runs / run_id / "test_probs.npy"), atol=1e-5)

    long_training = config_to_dict(tiny_config("full", epochs=500, image_size=64))
    server, killed = _start_server(ws, {"dataset_id": dataset.id, "config": long_training})
    try:
        with JobManager(ws, poll_interval=0.05) as observer:  # made while the server lives: leaves its job alone
            running = until(lambda: _epoch_running(observer, killed), 180, "the server's training to run epochs")
        worker = running.pid
        assert alive(worker)
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        until(lambda: not alive(worker), 30, "the training worker to die with the server")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()
    planted = _plant_half_written_files(ws, ws.jobs / killed, worker)

    with JobManager(ws) as restarted:
        after = {s.id: s for s in restarted.list(owner=OWNER)}
        epochs = [e["epoch"] for e in restarted.events(killed) if e.get("kind") == "epoch"]
    assert list(after) == [killed, first]
    s = after[killed]
    assert (s.state, s.error, s.result) == ("interrupted", INTERRUPTED_RUNNING, None)
    # the kill lands mid-epoch or between epochs: the last progress is either kind, the epochs done are on record
    assert s.progress["kind"] in ("epoch", "progress") and epochs and 1 <= max(epochs) < 500
    assert s.finished >= s.started
    assert (after[first].state, after[first].result["run_id"]) == ("done", run_id)

    assert [r.id for r in list_runs(ws)] == [run_id]  # the index and the folders agree: only the earlier run
    assert _index_rows(ws) == index
    assert sorted(p.name for p in ws.runs.iterdir()) == [run_id]
    assert list(ws.tmp.iterdir()) == []
    assert [p for p in planted if p.exists()] == []
    assert _temp_files(ws.root) == []
    assert snapshot(ws.runs / run_id) == run_bytes
    np.testing.assert_array_equal(_test_probs(ws, run_id), probs)

    at = _app_after_restart(ws, dataset.id, monkeypatch)
    try:
        assert not at.exception
        warnings = [w.value.replace("\\", "") for w in at.warning]
        assert f"The job was interrupted: {INTERRUPTED_RUNNING}. Start it again when you are ready." in warnings
        assert [t.value for t in at.text if t.value == "long training"] == ["long training"]
        assert not at.button(key="train-start").disabled
    finally:
        import streamlit as st

        from ui.jobs import _manager_for

        _manager_for(str(ws.root)).close()
        st.cache_resource.clear()


@pytest.mark.slow  # a subprocess
def test_a_run_folder_left_by_a_dead_but_unreaped_writer_is_removed(ws):
    # a worker killed with its server is a zombie until someone reaps it; it can write nothing any more
    from tlcore.runs.records import repair_index

    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        until(lambda: Path(f"/proc/{writer.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 30,
               "the writer to exit (unreaped)")
        staging = ws.tmp / f"run-20250101-000000-abcdef.{writer.pid}.tmp"
        staging.mkdir()
        (staging / "model.safetensors").write_bytes(b"half")
        live = ws.tmp / f"run-20250101-000000-fedcba.{os.getpid()}.tmp"  # this process is still writing it
        live.mkdir()
        repair_index(ws)
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
