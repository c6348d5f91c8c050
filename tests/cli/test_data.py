"""``python -m tlcore import | datasets | backbones``."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow  # subprocesses
def test_import_prints_the_dataset_id_and_the_same_data_gives_the_same_id(tmp_path, images, run_cli):
    first = run_cli("import", str(images), ws=tmp_path / "ws")
    assert first.returncode == 0, first.stderr
    dataset_id = first.stdout.strip()
    assert len(dataset_id) == 16
    again = run_cli("import", str(images), "--json", ws=tmp_path / "ws")
    assert json.loads(again.stdout)["dataset_id"] == dataset_id
    assert json.loads(again.stdout)["class_counts"] == {"blue": 8, "green": 8, "red": 8}


def test_datasets_lists_what_was_imported(tmp_path, images, capsys, run_json):
    ws = str(tmp_path / "ws")
    assert run_json(capsys, "datasets", "--workspace", ws) == {"datasets": []}
    dataset_id = run_json(capsys, "import", str(images), "--name", "colours", "--workspace", ws)["dataset_id"]
    assert run_json(capsys, "datasets", "--workspace", ws)["datasets"] == [
        {"dataset_id": dataset_id, "name": "colours", "images": 24, "classes": 3}]
