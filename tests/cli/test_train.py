"""``python -m tlcore``: the commands scripts rely on, their JSON, and clear failures on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthetic import write_class_folder
from tlcore.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, ws: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tlcore`` in a subprocess, as a user would."""
    full_env = dict(os.environ, TLCORE_WORKSPACE=str(ws), **(env or {}))
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=600)


def run_json(capsys, *args: str) -> dict:
    code = main([*args, "--json", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.fixture
def images(tmp_path) -> Path:
    return write_class_folder(tmp_path / "colours", n_per_class=8, size=24)


def test_import_prints_the_dataset_id_and_the_same_data_gives_the_same_id(tmp_path, images):
    first = run_cli("import", str(images), ws=tmp_path / "ws")
    assert first.returncode == 0, first.stderr
    dataset_id = first.stdout.strip()
    assert len(dataset_id) == 16
    again = run_cli("import", str(images), "--json", ws=tmp_path / "ws")
    assert json.loads(again.stdout)["dataset_id"] == dataset_id
    assert json.loads(again.stdout)["class_counts"] == {"blue": 8, "green": 8, "red": 8}


def test_train_runs_predict_evaluate_show_delete_with_the_default_backbone(tmp_path, images, capsys):
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


def test_text_output_of_predict_names_each_image(tmp_path, images):
    ws = tmp_path / "ws"
    dataset_id = run_cli("import", str(images), ws=ws).stdout.strip()
    train = run_cli("train", "--dataset", dataset_id, "--epochs", "1", "--no-augment", ws=ws)
    assert train.returncode == 0, train.stderr
    run_id = train.stdout.strip()
    image = next((images / "blue").iterdir())
    pred = run_cli("predict", "--run", run_id, str(image), ws=ws)
    assert pred.returncode == 0 and pred.stdout.startswith(str(image) + ":")
    assert "%" in pred.stdout


@pytest.mark.parametrize("args, message", [
    (["import", "/no/such/folder"], "/no/such/folder: no such file or folder"),
    (["train", "--dataset", "0123456789abcdef"], "0123456789abcdef"),
    (["predict", "--run", "nope", "/no/image.png"], "/no/image.png: no such image file"),
    (["show", "--run", "nope"], "no run 'nope'"),
])
def test_bad_input_gives_a_clear_message_and_exit_code_1(tmp_path, args, message):
    result = run_cli(*args, ws=tmp_path / "ws")
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_file_that_is_not_an_image_is_named(tmp_path, images, capsys):
    ws = str(tmp_path / "ws")
    dataset_id = run_json(capsys, "import", str(images), "--workspace", ws)["dataset_id"]
    run_id = run_json(capsys, "train", "--dataset", dataset_id, "--epochs", "1", "--workspace", ws)["run_id"]
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not a picture")
    assert main(["predict", "--run", run_id, str(bogus), "--workspace", ws]) == 1
    assert f"{bogus}: not an image" in capsys.readouterr().err


def test_usage_errors_exit_2_and_help_explains_options(tmp_path):
    bad = run_cli("train", "--dataset", "x", "--strategy", "magic", ws=tmp_path / "ws")
    assert bad.returncode == 2 and "invalid choice: 'magic'" in bad.stderr
    helped = run_cli("train", "--help", ws=tmp_path / "ws")
    assert helped.returncode == 0
    for option in ("--strategy", "--backbone", "--epochs", "--seed", "--json", "--workspace", "--fine-tune-groups",
                   "--unfreeze-every", "--backbone-lr-ratio", "--patience", "--no-augment"):
        assert option in helped.stdout


def test_workspace_comes_from_the_environment_or_the_option(tmp_path, images):
    env_ws, opt_ws = tmp_path / "env", tmp_path / "opt"
    run_cli("import", str(images), ws=env_ws)
    run_cli("import", str(images), "--workspace", str(opt_ws), ws=env_ws)
    assert any((env_ws / "datasets").iterdir()) and any((opt_ws / "datasets").iterdir())
