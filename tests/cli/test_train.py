"""``python -m tlcore train | predict | evaluate`` (and the runs they record): the JSON scripts rely on."""

from __future__ import annotations

import pytest

from tlcore.cli.main import main


@pytest.mark.slow  # real EfficientNet-Lite0 weights
def test_train_runs_predict_evaluate_show_delete_with_the_default_backbone(tmp_path, images, capsys, run_json):
    ws = str(tmp_path / "ws")
    dataset_id = run_json(capsys, "import", str(images), "--workspace", ws)["dataset_id"]
    out = run_json(capsys, "train", "--dataset", dataset_id, "--strategy", "feature-extraction", "--epochs", "3",
                   "--seed", "0", "--workspace", ws)
    run_id = out["run_id"]
    assert out["backbone"] == "efficientnet_lite0" and out["strategy"] == "feature-extraction"
    assert 0 <= out["test_metrics"]["accuracy"] <= 1 and out["cache_mode"] == "aug-bank"
    runs = run_json(capsys, "runs", "--workspace", ws)["runs"]
    assert [r["id"] for r in runs] == [run_id]
    image = next((images / "red").iterdir())
    pred = run_json(capsys, "predict", "--run", run_id, "--top-k", "2", str(image), "--workspace", ws)
    top = pred["predictions"][0]["top"]
    assert len(top) == 2 and top[0]["probability"] >= top[1]["probability"]
    assert run_json(capsys, "evaluate", "--run", run_id, "--workspace", ws)["identical_to_recorded"] is True
    assert run_json(capsys, "show", "--run", run_id, "--workspace", ws)["id"] == run_id
    run_json(capsys, "delete", "--run", run_id, "--workspace", ws)
    assert run_json(capsys, "runs", "--workspace", ws)["runs"] == []


@pytest.mark.slow  # subprocesses, real EfficientNet-Lite0 weights
def test_text_output_of_predict_names_each_image(tmp_path, images, run_cli):
    ws = tmp_path / "ws"
    dataset_id = run_cli("import", str(images), ws=ws).stdout.strip()
    train = run_cli("train", "--dataset", dataset_id, "--strategy", "feature-extraction", "--epochs", "1", "--no-augment",
                    ws=ws)
    assert train.returncode == 0, train.stderr
    run_id = train.stdout.strip()
    image = next((images / "blue").iterdir())
    pred = run_cli("predict", "--run", run_id, str(image), ws=ws)
    assert pred.returncode == 0 and pred.stdout.startswith(str(image) + ":")
    assert "%" in pred.stdout


@pytest.mark.slow  # real EfficientNet-Lite0 weights
def test_a_file_that_is_not_an_image_is_named(tmp_path, images, capsys, run_json):
    ws = str(tmp_path / "ws")
    dataset_id = run_json(capsys, "import", str(images), "--workspace", ws)["dataset_id"]
    run_id = run_json(capsys, "train", "--dataset", dataset_id, "--strategy", "feature-extraction", "--epochs", "1",
                      "--workspace", ws)["run_id"]
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not a picture")
    assert main(["predict", "--run", run_id, str(bogus), "--workspace", ws]) == 1
    assert f"{bogus}: not an image" in capsys.readouterr().err
