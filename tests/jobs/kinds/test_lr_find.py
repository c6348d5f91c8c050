"""The lr-find job kind (tlcore.jobs.kinds.lr_find): its typed parameters, and a run in a worker process."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_config
from tests.synthetic import write_class_folder
from tlcore.data import import_folder
from tlcore.errors import TlcoreError
from tlcore.jobs.kinds import LRFindJob
from tlcore.jobs.manager import JobManager
from tlcore.jobs.registry import get_kind
from tlcore.runs.records import list_runs
from tlcore.train.config import config_to_dict
from tlcore.train.lr_find import LRFindResult, LRFindSettings
from tlcore.workspace import Workspace


def test_lr_find_is_registered_with_its_builder():
    assert get_kind("lr-find").params is LRFindJob and LRFindJob.kind == "lr-find"


def test_the_params_round_trip_and_default_to_fastais_sweep():
    job = LRFindJob("ds-1", tiny_config("fine-tune"), LRFindSettings(start_lr=1e-6, end_lr=1.0, num_it=50))
    params = job.to_params()
    assert params["start_lr"] == 1e-6 and params["end_lr"] == 1.0 and params["num_it"] == 50
    assert LRFindJob.from_params(params) == job
    plain = LRFindJob.from_params({"dataset_id": "ds-1", "config": config_to_dict(tiny_config())})
    assert plain.settings == LRFindSettings()


@pytest.mark.parametrize("changes, words", [
    ({"num_it": 2}, "setting 'num_it'"), ({"start_lr": "x"}, "setting 'start_lr'"),
    ({"start_lr": 1.0, "end_lr": 0.5}, "start_lr below end_lr"), ({"steps": 3}, "unknown setting(s) steps"),
    ({"dataset_id": ""}, "setting 'dataset_id' must name an imported dataset")])
def test_bad_params_are_refused_naming_the_kind_and_the_setting(changes, words):
    params = {"dataset_id": "ds-1", "config": config_to_dict(tiny_config())} | changes
    with pytest.raises(TlcoreError, match="lr-find") as e:
        LRFindJob.from_params(params)
    assert words in str(e.value)


@pytest.mark.slow  # a job worker is a subprocess
def test_an_lr_find_job_returns_the_curve_and_the_suggestion(tmp_path):
    ws = Workspace(tmp_path / "ws")
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=8, size=16))
    job = LRFindJob(dataset.id, tiny_config("feature-extraction"), LRFindSettings(num_it=30))
    with JobManager(ws) as jobs:
        job_id = jobs.submit_job(job, owner="me")
        status = jobs.wait(job_id, timeout=120)
        events = jobs.events(job_id)
    assert status.state == "done", status.error
    result = LRFindResult.from_dict({k: v for k, v in status.result.items() if k != "dataset_id"})
    assert status.result["dataset_id"] == dataset.id
    assert result.inputs == "features" and len(result.lrs) <= 30 and result.suggested_lr is not None
    assert any(e["kind"] == "progress" and e["phase"] == "lr-find" for e in events)
    assert any(e["kind"] == "message" and "suggested head learning rate" in e["text"] for e in events)
    assert list_runs(ws) == []  # nothing is recorded as a run
