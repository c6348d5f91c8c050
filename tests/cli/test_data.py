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
    assert run_json(capsys, "datasets", "--workspace", ws) == {"datasets": [], "damaged": []}
    dataset_id = run_json(capsys, "import", str(images), "--name", "colours", "--workspace", ws)["dataset_id"]
    assert run_json(capsys, "datasets", "--workspace", ws)["datasets"] == [
        {"dataset_id": dataset_id, "name": "colours", "images": 24, "classes": 3}]


HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202e\x9bx"


def _no_raw_controls(text: str) -> bool:
    return not any(c in text for c in ("\x1b", "\x07", "\u202e", "\x9b"))


def test_import_and_datasets_text_output_escapes_hostile_names(tmp_path, images, capsys):
    from tests.synthetic import write_class_folder
    from tlcore.cli.main import main

    ws = str(tmp_path / "ws")
    (images / "red" / f"{HOSTILE}.png").write_bytes(b"not an image")  # skipped, and named in the output
    code = main(["import", str(images), "--name", f"colours {HOSTILE}", "--workspace", ws])
    captured = capsys.readouterr()
    assert _no_raw_controls(captured.out + captured.err), captured
    assert code in (0, 1) and "\\x1b" in captured.err  # named, escaped (or refused, naming it escaped)
    other = write_class_folder(tmp_path / "plain", n_per_class=4, size=16)
    assert main(["import", str(other), "--name", f"plain {HOSTILE}", "--workspace", ws]) in (0, 1)
    capsys.readouterr()
    assert main(["datasets", "--workspace", ws]) == 0
    captured = capsys.readouterr()
    assert _no_raw_controls(captured.out + captured.err) and captured.out.strip()
    assert main(["datasets", "--json", "--workspace", ws]) == 0
    out = capsys.readouterr().out
    assert _no_raw_controls(out) and json.loads(out)["datasets"]
