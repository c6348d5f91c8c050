"""``python -m tlcore lr-find``: the suggested rate as text, the curve as JSON, bad sweeps refused."""

from __future__ import annotations

import pytest

from tlcore.cli.main import main

TINY = ("--backbone", "timm/test_efficientnet", "--image-size", "32", "--batch-size", "8", "--no-augment")


@pytest.fixture
def dataset_id(tmp_path, images, capsys, run_json) -> str:
    return run_json(capsys, "import", str(images), "--workspace", str(tmp_path / "ws"))["dataset_id"]


def test_the_json_has_the_curve_the_suggestion_and_the_settings(tmp_path, dataset_id, capsys, run_json):
    out = run_json(capsys, "lr-find", "--dataset", dataset_id, "--strategy", "fine-tune", "--fine-tune-groups", "1",
                   *TINY, "--num-it", "40", "--workspace", str(tmp_path / "ws"))
    assert out["dataset_id"] == dataset_id and out["strategy"] == "fine-tune" and out["n_trainable"] == 1
    assert out["inputs"] == "prefix" and out["settings"]["num_it"] == 40
    assert len(out["lrs"]) == len(out["losses"]) == len(out["smoothed"]) <= 40
    assert out["suggested_lr"] == out["lrs"][out["suggested_index"]]
    assert out["config"]["backbone"] == "timm/test_efficientnet" and out["stopped"] in ("done", "diverged")


def test_text_prints_the_suggested_rate_on_stdout_and_the_curve_on_stderr(tmp_path, dataset_id, capsys):
    code = main(["lr-find", "--dataset", dataset_id, *TINY, "--num-it", "30", "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0
    assert float(captured.out.strip()) > 0
    assert "learning rate" in captured.err and "<- suggested" in captured.err and "inputs features" in captured.err


def test_a_start_rate_above_the_end_rate_is_a_usage_error(tmp_path, dataset_id, capsys):
    code = main(["lr-find", "--dataset", dataset_id, "--start-lr", "1", "--end-lr", "0.1",
                 "--workspace", str(tmp_path / "ws")])
    assert code == 2 and "--start-lr 1 must be below --end-lr 0.1" in capsys.readouterr().err


def test_too_few_steps_are_refused_naming_the_option(tmp_path, dataset_id, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["lr-find", "--dataset", dataset_id, "--num-it", "3", "--workspace", str(tmp_path / "ws")])
    assert exit_.value.code == 2 and "argument --num-it: must be a whole number in [6, 1000]" in capsys.readouterr().err
