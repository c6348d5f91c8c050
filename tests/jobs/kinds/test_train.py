"""The train job kind (tlcore.jobs.kinds.train) run in a worker process through the job manager."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.synthetic import write_class_folder
from tests.conftest import tiny_config
from tlcore.data import import_folder
from tlcore.jobs.manager import JobManager
from tlcore.runs.records import get_run, list_runs
from tlcore.train.config import config_to_dict
from tlcore.workspace import Workspace

pytestmark = pytest.mark.slow  # job workers are subprocesses

@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_train_job_records_a_run_and_reports_epochs(ws, tmp_path):
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=6, size=16))
    with JobManager(ws) as jobs:
        job_id = jobs.submit("train", {"dataset_id": dataset.id, "config": config_to_dict(tiny_config(epochs=2))},
                             owner="me")
        status = jobs.wait(job_id, timeout=120)
        assert status.state == "done", status.error
        events = jobs.events(job_id)
    run_id = status.result["run_id"]
    assert [r.id for r in list_runs(ws)] == [run_id]
    record = get_run(ws, run_id)
    assert record["pretrained"] is False and record["weights_source"].startswith("random init")
    assert sum(e["kind"] == "epoch" for e in events) == 2
    assert status.result["epochs"] == 2


def test_train_job_with_a_bad_dataset_fails_with_a_clear_message(ws):
    with JobManager(ws) as jobs:
        job_id = jobs.submit("train", {"dataset_id": "nope", "config": config_to_dict(tiny_config())})
        status = jobs.wait(job_id, timeout=60)
    assert status.state == "failed" and "nope" in status.error and "internal error" not in status.error


def test_train_job_refuses_unknown_settings(ws, tmp_path):
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=4, size=16))
    config = dict(config_to_dict(replace(tiny_config(), epochs=1)), epoch=3)
    with JobManager(ws) as jobs:
        status = jobs.wait(jobs.submit("train", {"dataset_id": dataset.id, "config": config}), timeout=60)
    assert status.state == "failed" and "epoch" in status.error


def test_a_cancelled_training_job_is_not_listed_as_a_finished_model(ws, tmp_path):
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=6, size=16))
    config = config_to_dict(tiny_config("full", epochs=200, image_size=64))
    with JobManager(ws) as jobs:
        job_id = jobs.submit("train", {"dataset_id": dataset.id, "config": config})
        for _ in range(600):  # wait until training has really started (an epoch is reported)
            if any(e["kind"] == "epoch" for e in jobs.events(job_id)):
                break
            time.sleep(0.1)
        assert jobs.get(job_id).state == "running"
        jobs.cancel(job_id)
        status = jobs.wait(job_id, timeout=30)
    assert status.state == "cancelled"
    assert list_runs(ws) == []
    assert not list(ws.tmp.glob("run-*"))
