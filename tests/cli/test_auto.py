"""``python -m tlcore train --strategy auto``: the default strategy, the leaderboard in JSON and text, bad input."""

from __future__ import annotations

import pytest

from tlcore.cli.main import main

TINY = ("--backbone", "timm/test_efficientnet", "--image-size", "32", "--batch-size", "8")
FAST = ("--candidates", "pixels,probe", "--folds", "3", "--probe-backbones", "timm/test_efficientnet")


@pytest.fixture
def dataset_id(tmp_path, images, capsys, run_json) -> str:
    return run_json(capsys, "import", str(images), "--workspace", str(tmp_path / "ws"))["dataset_id"]


def test_auto_is_the_default_and_its_json_has_the_winner_the_reason_and_the_leaderboard(tmp_path, dataset_id, capsys,
                                                                                          run_json):
    out = run_json(capsys, "train", "--dataset", dataset_id, *TINY, *FAST, "--workspace", str(tmp_path / "ws"))
    assert out["strategy"] == "auto"
    auto = out["auto"]
    assert auto["winner"] in {r["name"] for r in auto["leaderboard"]} and auto["reason"]
    assert {r["name"] for r in auto["leaderboard"]} == {"pixels", "probe:timm/test_efficientnet"}
    shown = run_json(capsys, "show", "--run", out["run_id"], "--workspace", str(tmp_path / "ws"))
    assert shown["strategy"] == "auto"


def test_text_prints_the_run_id_the_leaderboard_and_the_reason(tmp_path, dataset_id, capsys):
    code = main(["train", "--dataset", dataset_id, "--strategy", "auto", *TINY, *FAST, "--budget", "600",
                 "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip().count("\n") == 0  # the run id alone on stdout
    assert "CV accuracy (95% CI)" in captured.err and "raw pixels (logistic regression)" in captured.err
    assert "mean cross-validated accuracy over 3 folds" in captured.err


def test_only_scores_and_refits_one_candidate(tmp_path, dataset_id, capsys, run_json):
    out = run_json(capsys, "train", "--dataset", dataset_id, *TINY, "--only", "pixels", "--folds", "3",
                   "--workspace", str(tmp_path / "ws"))
    assert out["auto"]["winner"] == "pixels" and [r["name"] for r in out["auto"]["leaderboard"]] == ["pixels"]


@pytest.mark.parametrize("args, words", [
    (("--budget", "0"), "argument --budget: must be in [1, 604800]"),
    (("--candidates", "pixels,magic"), "argument --candidates: 'pixels,magic': use one or more of"),
    (("--only", "probe:"), "--only: 'probe:' is not an auto-recipe candidate"),
    (("--folds", "1"), "argument --folds: must be a whole number in [2, 20]")])
def test_bad_auto_options_are_usage_errors_naming_the_option(tmp_path, dataset_id, capsys, args, words):
    try:
        code = main(["train", "--dataset", dataset_id, *TINY, *args, "--workspace", str(tmp_path / "ws")])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2 and words in capsys.readouterr().err


def test_a_budget_too_small_fails_with_the_budget_it_needs_and_records_nothing(tmp_path, dataset_id, capsys,
                                                                             run_json):
    code = main(["train", "--dataset", dataset_id, *TINY, *FAST, "--budget", "1", "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 1 and "time budget (setting 'budget', --budget) is 1 s, too little for any candidate" in err
    assert run_json(capsys, "runs", "--workspace", str(tmp_path / "ws"))["runs"] == []


def test_a_class_too_small_for_the_folds_is_named(tmp_path, dataset_id, capsys):
    code = main(["train", "--dataset", dataset_id, *TINY, *FAST, "--folds", "8", "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 1 and "outside the test split; 8 folds need at least 8 per class" in err
