"""Tests for the typed job parameters: tlcore.jobs.params (the shared validators) and the builders of
tlcore.jobs.kinds (``to_params`` gives the params dict the pages used to build by hand; ``from_params`` checks it)."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_config
from tlcore.errors import TlcoreError
from tlcore.jobs.kinds import CompareJob, CurveJob, CVJob, ExplainJob, ReportJob, TrainJob
from tlcore.jobs.params import check_keys, choice, list_of, number, text, train_config, whole_number
from tlcore.train.config import config_to_dict


def test_validators_name_the_kind_the_setting_and_the_value() -> None:
    with pytest.raises(TlcoreError, match=r"^cv: setting 'folds' must be a whole number from 2 to 50, got 1$"):
        whole_number({"folds": 1}, "folds", 5, 2, 50, "cv")
    with pytest.raises(TlcoreError, match=r"got True$"):
        whole_number({"folds": True}, "folds", 5, 2, 50, "cv")
    assert whole_number({}, "folds", 5, 2, 50, "cv") == 5
    with pytest.raises(TlcoreError, match=r"^selftest: setting 'delay' must be a number from 0 to 60, got 'x'$"):
        number({"delay": "x"}, "delay", 0.05, 0.0, 60.0, "selftest")
    assert number({"delay": 1}, "delay", 0.05, 0.0, 60.0, "selftest") == 1.0
    with pytest.raises(TlcoreError, match=r"^selftest: setting 'crash' must be one of None, 'exit', got 'boom'$"):
        choice({"crash": "boom"}, "crash", (None, "exit"), "selftest")
    with pytest.raises(TlcoreError, match=r"^explain job: setting 'run_id' is missing or not text$"):
        text({}, "run_id", "explain job")
    with pytest.raises(TlcoreError, match=r"^train: setting 'dataset_id' must name an imported dataset, got 3$"):
        text({"dataset_id": 3}, "dataset_id", "train", must="must name an imported dataset")
    with pytest.raises(TlcoreError, match=r"^curve: setting 'fractions' must be a list of numbers, got 'a'$"):
        list_of({"fractions": "a"}, "fractions", (1.0,), (int, float), "curve", "a list of numbers")
    with pytest.raises(TlcoreError, match=r"^cv: unknown setting\(s\) fold$"):
        check_keys({"fold": 3}, ("folds",), "cv")
    with pytest.raises(TlcoreError, match=r"^selftest: unknown setting\(s\) x; known settings: steps, at$"):
        check_keys({"x": 1}, ("steps", "at"), "selftest", list_known=True)
    with pytest.raises(TlcoreError, match=r"^cv: setting 'config' must be a dict of training settings, got 3$"):
        train_config({"config": 3}, "cv")
    with pytest.raises(TlcoreError, match="epoch"):
        train_config({"config": {"epoch": 3}}, "train")


def test_train_job_gives_the_params_of_today_and_reads_them_back() -> None:
    config = tiny_config(epochs=2)
    job = TrainJob("ds-1", config)
    assert job.to_params() == {"dataset_id": "ds-1", "config": config_to_dict(config)}
    assert TrainJob.from_params(job.to_params()) == job
    assert TrainJob("ds-1", config, label="x").to_params()["label"] == "x"
    with pytest.raises(TlcoreError, match="setting 'dataset_id' must name an imported dataset"):
        TrainJob.from_params({"config": config_to_dict(config)})


def test_evaluation_jobs_give_the_params_the_cross_validation_page_built() -> None:
    config = tiny_config()
    base = {"dataset_id": "ds", "config": config_to_dict(config), "folds": 3}
    assert CVJob("ds", config, folds=3).to_params() == base
    comparison = dict(folds=3, strategies=("feature-extraction", "pixels"), metric="macro_f1",
                      overrides={"scratch": {"epochs": 2}})
    compare = {**base, "strategies": ["feature-extraction", "pixels"], "metric": "macro_f1",
               "overrides": {"scratch": {"epochs": 2}}}
    assert CompareJob("ds", config, **comparison).to_params() == compare
    assert CurveJob("ds", config, **comparison, fractions=(0.5, 1.0)).to_params() == {**compare,
                                                                                       "fractions": [0.5, 1.0]}
    for job in (CVJob("ds", config, folds=3, reuse_folds_from="run-1"), CompareJob("ds", config, **comparison),
                CurveJob("ds", config, **comparison, fractions=(0.5, 1.0))):
        assert type(job).from_params(job.to_params()) == job


def test_evaluation_jobs_fill_in_defaults_and_refuse_bad_settings() -> None:
    params = {"dataset_id": "ds", "config": config_to_dict(tiny_config())}
    assert CompareJob.from_params(params).strategies == ("feature-extraction", "scratch", "pixels")
    assert CurveJob.from_params(params).fractions == (0.1, 0.25, 0.5, 1.0)
    with pytest.raises(TlcoreError, match=r"^compare: setting 'strategies' must be a list of strategy names"):
        CompareJob.from_params({**params, "strategies": "pixels"})
    with pytest.raises(TlcoreError, match="unknown strategy 'magic'"):
        CompareJob.from_params({**params, "strategies": ["magic"]})
    with pytest.raises(TlcoreError, match=r"^compare: setting 'overrides' must map strategy names to settings"):
        CompareJob.from_params({**params, "overrides": {"scratch": 3}})
    with pytest.raises(TlcoreError, match=r"^cv: unknown setting\(s\) strategies$"):
        CVJob.from_params({**params, "strategies": ["pixels"]})


def test_explain_jobs_give_the_params_the_explain_page_built() -> None:
    common = {"run_id": "r", "methods": ["gradcam"], "target": "true", "sanity": True, "faithfulness": False}
    job = ExplainJob("r", ("gradcam",), hashes=("h1", "h2"), target="true", sanity=True)
    assert job.to_params() == {**common, "hashes": ["h1", "h2"]}
    assert ExplainJob.from_params(job.to_params()) == job
    files = ExplainJob("r", ("gradcam",), files=("/w/a.png",), names=("a.png",), target="true", sanity=True)
    assert files.to_params() == {**common, "files": ["/w/a.png"], "names": ["a.png"]}
    with pytest.raises(TlcoreError, match="at most 64 per job"):
        ExplainJob.from_params({"run_id": "r", "methods": ["gradcam"], "hashes": ["h"] * 65})
    report = ReportJob("r", ("gradcam",))
    assert report.to_params() == {"run_id": "r", "methods": ["gradcam"]}
    assert ReportJob.from_params(report.to_params()) == ReportJob("r", ("gradcam",), per_group=4, sanity_images=4)
