"""The evaluation job kinds (``cv``, ``compare``) and CLI commands (``cv``, ``compare``, ``curve``): they record runs
and print the same numbers as the engine."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY, tiny_config
from tlcore.evaluate.cv import cross_validate
from tlcore.runs.records import get_run, list_runs


@pytest.mark.slow  # job workers are subprocesses
def test_cv_job_records_a_run(ws, dataset, monkeypatch):
    from tlcore.jobs.manager import JobManager
    from tlcore.train.config import config_to_dict

    with JobManager(ws) as jobs:
        job_id = jobs.submit("cv", {"dataset_id": dataset.id, "config": config_to_dict(tiny_config(epochs=1)),
                                    "folds": 3}, owner="me")
        status = jobs.wait(job_id, timeout=180)
        assert status.state == "done", status.error
        events = jobs.events(job_id)
    assert [r.id for r in list_runs(ws, kind="cv")] == [status.result["run_id"]]
    assert {e.get("fold") for e in events if e["kind"] == "epoch"} == {1, 2, 3}
    assert any(e["kind"] == "progress" and e["phase"] == "cross-validation" and e["done"] == 3 for e in events)


def test_cv_job_refuses_bad_settings(ws, dataset):
    from tlcore.errors import TlcoreError
    from tlcore.jobs.kinds.evaluate import cv_task
    from tlcore.events import CancelToken, ignore_event

    with pytest.raises(TlcoreError, match="'folds'"):
        cv_task({"dataset_id": dataset.id, "folds": 1}, ws, ignore_event, CancelToken())
    with pytest.raises(TlcoreError, match="unknown setting"):
        cv_task({"dataset_id": dataset.id, "fold": 3}, ws, ignore_event, CancelToken())


def test_cli_cv_prints_per_fold_metrics_as_json_matching_the_engine(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main

    args = ["cv", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "3",
            "--seed", "0", "--epochs", "2", "--batch-size", "8", "--patience", "0", "--no-augment",
            "--image-size", "32", "--val-fraction", "0.2", "--lr", "0.01", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "cv" and out["k"] == 3 and len(out["fold_metrics"]) == 3
    assert {"accuracy", "balanced_accuracy", "macro_f1", "log_loss", "fold"} <= set(out["fold_metrics"][0])
    direct = cross_validate(ws, dataset, tiny_config(epochs=2), k=3)  # the default factory, as the CLI uses
    assert [r["accuracy"] for r in out["fold_metrics"]] == pytest.approx(
        [f.metrics["accuracy"] for f in direct.result.folds])
    assert main(["cv", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "12",
                 "--json", "--quiet"]) == 1
    assert "has 9 distinct images" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.slow  # job workers are subprocesses
def test_compare_job_and_cli_give_the_same_numbers(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main
    from tlcore.jobs.manager import JobManager
    from tlcore.train.config import config_to_dict

    config = tiny_config(epochs=1)
    with JobManager(ws) as jobs:
        job_id = jobs.submit("compare", {"dataset_id": dataset.id, "config": config_to_dict(config), "folds": 3,
                                         "strategies": ["feature-extraction", "pixels"]}, owner="me")
        status = jobs.wait(job_id, timeout=180)
    assert status.state == "done", status.error
    job_record = get_run(ws, status.result["run_id"])
    args = ["compare", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "3",
            "--strategies", "feature-extraction,pixels", "--epochs", "1", "--batch-size", "8", "--patience", "0",
            "--no-augment", "--image-size", "32", "--val-fraction", "0.2", "--lr", "0.01", "--fine-tune-groups", "2",
            "--unfreeze-every", "1", "--test-fraction", "0.2", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "compare" and [s["strategy"] for s in out["strategies"]] == ["feature-extraction", "pixels"]
    assert len(out["strategies"][0]["fold_metrics"]) == 3 and out["verdict"]["text"]
    for cli_block, job_block in zip(out["strategies"], job_record["strategies"]):
        assert [r["accuracy"] for r in cli_block["fold_metrics"]] == pytest.approx(
            [r["accuracy"] for r in job_block["fold_metrics"]])
    assert job_record["folds"] == get_run(ws, out["run_id"])["folds"]


def test_curve_cli_prints_points_and_rows(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main

    assert main(["curve", "--workspace", str(ws.root), "--dataset", dataset.id, "--strategies", "pixels",
                 "--fractions", "0.5,1", "--folds", "3", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "curve" and len(out["points"]) == 2 and len(out["rows"]) == 6
    assert out["points"][1]["mean"] == 1.0
