"""``python -m tlcore explain`` / ``report`` on a saved run of the tiny EfficientNet."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tlcore.cli import main as cli


@pytest.fixture
def main(saved_run):
    ws, _, _ = saved_run
    return lambda *argv: cli.main([*argv, "--workspace", str(ws.root), "--quiet"])


def _image_files(ws, dataset, tmp_path, n=2):
    paths = []
    for i in range(n):
        path = tmp_path / f"img {i}.png"
        Image.open(ws.image_path(dataset.records[i * 11].hash)).save(path)
        paths.append(str(path))
    return paths


def test_explain_writes_one_overlay_per_image_and_json(main, saved_run, tmp_path, capsys):
    ws, dataset, run_id = saved_run
    images = _image_files(ws, dataset, tmp_path)
    out = tmp_path / "out"
    assert main("explain", "--run", run_id, "--method", "gradcam", "--out", str(out), "--json", *images) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "gradcam" and len(report["images"]) == 2
    for row, image in zip(report["images"], images):
        assert row["image"] == image
        assert row["prediction"]["class"] in dataset.classes and 0 < row["prediction"]["probability"] <= 1
        png = Image.open(row["png"])
        assert png.size == (48, 48) and png.mode == "RGB"
        assert isinstance(row["sanity"]["passed"], bool) and "rank_correlation" in row["sanity"]
    assert len(list(out.glob("*.png"))) == 2


def test_explain_text_output_and_options(main, saved_run, tmp_path, capsys):
    ws, dataset, run_id = saved_run
    images = _image_files(ws, dataset, tmp_path, n=1)
    code = main("explain", "--run", run_id, "--method", "integrated-gradients", "--steps", "4", "--no-sanity",
                "--faithfulness", "--target", "red", "--out", str(tmp_path / "o"), "--json", *images)
    assert code == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["target"] == "red" and "sanity" not in row and "convergence_delta" in row
    assert set(row["faithfulness"]) >= {"score", "verdict"}
    assert main("explain", "--run", run_id, "--method", "saliency", "--no-sanity", "--out", str(tmp_path / "t"),
                *images) == 0
    assert "->" in capsys.readouterr().out


def test_explain_errors_name_the_problem(main, saved_run, tmp_path, capsys):
    _, _, run_id = saved_run
    assert main("explain", "--run", run_id, "--method", "gradcam", "--out", str(tmp_path), "nope.png") == 1
    assert "nope.png: no such image file" in capsys.readouterr().err
    assert main("explain", "--run", "missing-run", "--method", "gradcam", "--out", str(tmp_path),
                __file__) == 1
    with pytest.raises(SystemExit):
        main("explain", "--run", run_id, "--method", "lime", "--out", str(tmp_path), __file__)


def test_report_writes_a_self_contained_file(main, saved_run, tmp_path, capsys):
    _, _, run_id = saved_run
    out = tmp_path / "review.html"
    assert main("report", "--run", run_id, "--out", str(out), "--methods", "gradcam", "--per-group", "1",
                "--sanity-images", "1", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["report"] == str(out) and out.stat().st_size == result["bytes"]
    assert "<section id='confusion'>" in out.read_text(encoding="utf-8")
    assert main("report", "--run", run_id, "--out", str(tmp_path / "r.pdf")) == 1
    assert "give a name ending in .html" in capsys.readouterr().err


def test_explain_out_at_an_existing_file_is_refused_naming_it(main, saved_run, tmp_path, capsys):
    ws, dataset, run_id = saved_run
    images = _image_files(ws, dataset, tmp_path, n=1)
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me")
    assert main("explain", "--run", run_id, "--method", "saliency", "--no-sanity", "--out", str(taken), *images) == 1
    err = capsys.readouterr().err
    assert f"--out {taken}: is a file" in err and "Traceback" not in err
    assert taken.read_text() == "keep me"
    assert main("explain", "--run", run_id, "--method", "saliency", "--no-sanity", "--out", str(taken / "sub"),
                *images) == 1
    assert str(taken) in capsys.readouterr().err


def test_report_out_at_an_existing_folder_is_refused_naming_it(main, saved_run, tmp_path, capsys):
    _, _, run_id = saved_run
    folder = tmp_path / "review.html"
    folder.mkdir()
    assert main("report", "--run", run_id, "--out", str(folder), "--methods", "gradcam") == 1
    assert f"--out {folder}: is a folder" in capsys.readouterr().err
