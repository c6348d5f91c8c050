"""The auto job kind (tlcore.jobs.kinds.auto): typed parameters, and a run in a worker process that streams the
leaderboard and records the winner as an ordinary run."""

from __future__ import annotations

import pytest

from tests.conftest import TINY, tiny_config
from tests.synthetic import write_class_folder
from tlcore.auto.config import AutoConfig, auto_to_dict
from tlcore.data import import_folder
from tlcore.errors import TlcoreError
from tlcore.jobs.kinds import AutoJob
from tlcore.jobs.manager import JobManager
from tlcore.jobs.registry import get_kind
from tlcore.runs.records import get_run
from tlcore.train.config import config_to_dict
from tlcore.workspace import Workspace

AUTO = AutoConfig(budget=600, folds=3, backbones=(TINY,), kinds=("pixels", "probe"), max_epochs=2)


def test_auto_is_registered_and_its_params_round_trip():
    assert get_kind("auto").params is AutoJob
    job = AutoJob("ds-1", tiny_config(), AUTO, label="first")
    assert AutoJob.from_params(job.to_params()) == job
    plain = AutoJob.from_params({"dataset_id": "ds-1", "config": config_to_dict(tiny_config())})
    assert plain.auto == AutoConfig()


@pytest.mark.parametrize("changes, words", [
    ({"auto": {"budget": 0}}, "Setting 'auto.budget' is 0"), ({"auto": {"folds": "x"}}, "auto.folds"),
    ({"auto": {"kinds": ["magic"]}}, "auto.kinds"), ({"auto": {"bogus": 1}}, "unknown AutoConfig setting(s): bogus"),
    ({"auto": 3}, "setting 'auto' must be a dict"), ({"dataset_id": ""}, "must name an imported dataset")])
def test_bad_params_are_refused_naming_the_setting(changes, words):
    params = {"dataset_id": "ds-1", "config": config_to_dict(tiny_config()), "auto": auto_to_dict(AUTO)} | changes
    with pytest.raises(TlcoreError, match="auto") as e:
        AutoJob.from_params(params)
    assert words in str(e.value)


@pytest.mark.slow  # a job worker is a subprocess
def test_an_auto_job_streams_the_leaderboard_and_records_the_winner(tmp_path):
    ws = Workspace(tmp_path / "ws")
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=10, size=16))
    with JobManager(ws) as jobs:
        job_id = jobs.submit_job(AutoJob(dataset.id, tiny_config(), AUTO), owner="me")
        status = jobs.wait(job_id, timeout=300)
        events = jobs.events(job_id)
    assert status.state == "done", status.error
    boards = [e for e in events if e["kind"] == "leaderboard"]
    assert boards and {r["name"] for r in boards[-1]["rows"]} == {"pixels", f"probe:{TINY}"}
    record = get_run(ws, status.result["run_id"])
    assert record["strategy"] == "auto" and record["auto"]["winner"] == status.result["winner"]
    assert record["auto"]["reason"] == status.result["reason"]
    assert [r["status"] for r in record["auto"]["leaderboard"]] == ["done", "done"]
