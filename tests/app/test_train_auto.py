"""Train page with the auto recipe: preselected with its own settings, the manual ones hidden; an auto job shows the
leaderboard, the reason and the table; "Open as its own training" fills the form with a candidate's settings."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import TINY, markdowns, open_page, run_until
from tlcore.auto.config import KINDS, AutoConfig
from tlcore.jobs.kinds.auto import AutoJob
from tlcore.train.config import config_from_dict
from ui.text import md_escape

TRAIN = "pages/3_Train.py"


def keys(elements) -> set[str]:
    return {e.key for e in elements}


def test_auto_is_first_and_preselected_with_its_settings_and_the_manual_ones_hidden(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    assert not at.exception
    strategy = at.selectbox(key="train-strategy")
    assert strategy.options[0] == "auto" and strategy.value == "auto"
    assert any(c.value.startswith("Let the workbench choose") for c in at.caption)
    defaults = AutoConfig()
    assert at.number_input(key="auto-budget").value == defaults.budget == 300
    assert at.number_input(key="auto-folds").value == defaults.folds == 5
    assert at.multiselect(key="auto-kinds").value == list(KINDS)
    assert at.text_input(key="auto-only").value == ""
    numbers = keys(at.number_input)
    assert {"train-seed", "train-size"} <= numbers and not numbers & {"train-epochs", "train-groups", "train-patience"}
    assert not keys(at.checkbox) & {"aug-train-hflip", "train-early", "train-weighted"}  # auto decides those
    assert not keys(at.select_slider) & {"train-head-lr", "train-ratio"}
    assert "lr-find-start" not in keys(at.button)
    assert any("auto runs its own range test" in c.value for c in at.caption)

    at.selectbox(key="train-strategy").set_value("fine-tune").run()  # a manual strategy: its settings come back
    assert not at.exception
    assert {"train-epochs", "train-groups"} <= keys(at.number_input) and "lr-find-start" in keys(at.button)
    assert "auto-budget" not in keys(at.number_input)


def test_a_name_that_is_no_candidate_is_refused_naming_the_setting(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at.text_input(key="auto-only").set_value("best-one").run()
    assert at.multiselect(key="auto-kinds").disabled  # one candidate only: the kinds do not apply
    at.button(key="train-start").click().run()
    assert not at.exception
    message = at.error[0].value.replace("\\", "")
    assert "Training was not started" in message and "'Only this candidate' is 'best-one'" in message
    at.text_input(key="auto-only").set_value("").run()
    at.multiselect(key="auto-kinds").set_value([]).run()
    at.button(key="train-start").click().run()
    assert "auto.kinds" in at.error[0].value.replace("\\", "")


def has_auto_result(at) -> bool:
    return "**How auto chose**" in markdowns(at)


def board_specs(at, title: str) -> list[dict]:
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return [s for s in specs if s["layout"].get("title", {}).get("text") == title]


@pytest.mark.slow  # the auto recipe runs in a job worker (a subprocess)
def test_an_auto_job_shows_its_leaderboard_and_opens_candidates_as_their_own_trainings(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at.selectbox(key="train-backbone").set_value(TINY)
    at.number_input(key="auto-budget").set_value(240)
    at.number_input(key="auto-folds").set_value(2)
    at.multiselect(key="auto-kinds").set_value(["pixels", "head"])
    at.number_input(key="train-size").set_value(32)
    at.select_slider(key="train-batch").set_value(8)
    at.run()
    at.button(key="train-start").click().run()
    assert not at.exception
    from ui.jobs import _manager_for

    (job,) = _manager_for(str(ws.root)).list()
    assert job.kind == "auto" and job.label == "auto on colours"
    params = AutoJob.from_params(job.params)
    assert params.auto == AutoConfig(budget=240.0, folds=2, kinds=("pixels", "head"))
    assert params.config.backbone == TINY and params.config.image_size == 32 and params.config.batch_size == 8
    run_until(at, has_auto_result)
    assert not at.exception
    record = json.loads((ws.runs / at.session_state["tl_run_id"] / "run.json").read_text())
    auto = record["auto"]
    assert record["strategy"] == "auto"
    assert md_escape(auto["reason"]) in [i.value for i in at.info]  # the sentence as plain text, never markup
    (final,) = board_specs(at, "Final leaderboard")
    done = [r for r in auto["leaderboard"] if r["status"] == "done"]
    assert len(final["data"][0]["y"]) == len(done) >= 2
    table = at.dataframe[0].value
    assert set(table["name"]) == {r["name"] for r in auto["leaderboard"]}
    assert table.iloc[0]["status"] == "done · winner"

    head = next(r for r in done if r["kind"] == "head")
    at.button(key=f"auto-open-{record['id']}-{head['name']}").click().run()
    assert not at.exception
    expected = config_from_dict(head["settings"]["train_config"])
    assert at.session_state["tl_train_config"] == expected
    assert at.selectbox(key="train-strategy").value == "feature-extraction"
    assert at.selectbox(key="train-head").value == "mlp"
    assert at.select_slider(key="train-head-lr").value == expected.strategy.head_lr  # the exact rate it found
    assert at.number_input(key="train-epochs").value == expected.epochs
    assert at.slider(key="train-dropout").value == pytest.approx(expected.strategy.dropout)
    assert at.checkbox(key="aug-train-hflip").value == expected.augment.hflip
    assert any("trained with in run" in s.value for s in at.success)
    at.button(key="train-start").click().run()  # the form's config is the candidate's: it trains as it is
    jobs = _manager_for(str(ws.root)).list()
    assert jobs[0].kind == "train" and jobs[0].params["config"] == head["settings"]["train_config"]
    _manager_for(str(ws.root)).cancel(jobs[0].id)


@pytest.mark.slow
def test_a_scikit_learn_candidate_opens_as_auto_with_only_it(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at.selectbox(key="train-backbone").set_value(TINY)
    at.number_input(key="auto-folds").set_value(2)
    at.multiselect(key="auto-kinds").set_value(["pixels"])
    at.run()
    at.button(key="train-start").click().run()
    run_until(at, has_auto_result)
    record = json.loads((ws.runs / at.session_state["tl_run_id"] / "run.json").read_text())
    at.button(key=f"auto-open-{record['id']}-pixels").click().run()
    assert not at.exception
    assert at.selectbox(key="train-strategy").value == "auto"
    assert at.text_input(key="auto-only").value == "pixels"
    assert at.multiselect(key="auto-kinds").disabled
    assert at.session_state["tl_auto_config"] == AutoConfig(folds=2, kinds=("pixels",), only="pixels")
    assert any("score and train only raw pixels" in s.value for s in at.success)
