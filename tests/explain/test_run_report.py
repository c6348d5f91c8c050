"""The review report of a saved run: every section, real numbers from the run, self-contained."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tlcore.explain import SECTIONS, ExplainError, render_report
from tlcore.explain.report_auto import AUTO_SECTION
from tlcore.explain.run_report import build_run_report, write_run_report
from tlcore.runs.records import get_run

from tests.explain.test_report_auto import auto_block


def test_report_of_a_saved_run(saved_run, tmp_path):
    ws, dataset, run_id = saved_run
    data = build_run_report(ws, run_id, methods=("gradcam", "saliency"), per_group=2, sanity_images=2)
    record = get_run(ws, run_id)
    assert data.metrics["accuracy"] == record["test_metrics"]["accuracy"]
    assert data.metrics["macro F1"] == record["test_metrics"]["macro_f1"]
    assert data.confusion.tolist() == record["test_metrics"]["confusion"]
    assert data.dataset["images"] == 40 and data.dataset["images per class"] == dataset.class_counts()
    assert len(data.correct) + len(data.wrong) >= 2 and len(data.correct) <= 2 and len(data.wrong) <= 2
    assert all(item.true_label == item.predicted for item in data.correct)
    assert all(item.true_label != item.predicted for item in data.wrong)
    assert all(set(item.overlays) == {"Grad-CAM", "Saliency"} for item in (*data.correct, *data.wrong))
    assert [s.method for s in data.sanity] == ["gradcam", "saliency"]
    path = write_run_report(ws, run_id, tmp_path / "review.html", methods=("gradcam",), per_group=2,
                            sanity_images=1)
    html = path.read_text(encoding="utf-8")
    for sid, _ in SECTIONS:
        assert f"<section id='{sid}'>" in html
    assert run_id in html and "colours" in html
    assert data.auto is None and f"<section id='{AUTO_SECTION[0]}'>" not in html  # not an auto run
    assert not re.search(r"(src|href)\s*=\s*['\"](https?:)?//", html) and "<script" not in html


def test_report_refuses_unknown_methods(saved_run):
    ws, _, run_id = saved_run
    with pytest.raises(ExplainError, match="unknown method 'lime'"):
        build_run_report(ws, run_id, methods=("lime",))


def test_report_of_an_auto_run_shows_how_the_recipe_was_chosen(saved_run, run):
    record = {**run.record, "strategy": "auto", "auto": auto_block()}
    data = build_run_report(saved_run[0], dataclasses.replace(run, record=record), methods=("gradcam",), per_group=1,
                            sanity_images=0)
    assert data.auto is not None and [r.name for r in data.auto.rows if r.winner] == ["probe:efficientnet_lite0"]
    assert data.summary["strategy"] == "auto" and data.summary["chosen recipe"] == "linear probe on efficientnet_lite0"
    assert data.summary["auto recipe time (selection, refit, test)"] == "287.4 s"
    assert "refit and test time" in data.summary and "training time" not in data.summary
    html = render_report(data)
    assert f"<section id='{AUTO_SECTION[0]}'>" in html and "<svg" in html and "&lt;script&gt;" in html


def test_report_leaves_out_a_method_the_model_cannot_run(saved_run, tmp_path):
    """An auto run may choose the raw-pixel model, which has no feature map for Grad-CAM: the report says so and
    shows the other methods' maps instead of failing."""
    from tlcore.data.augment import NO_AUGMENT
    from tlcore.models.registry import PIXELS_BACKBONE
    from tlcore.runs.store import save_run
    from tlcore.train.config import TrainConfig
    from tlcore.train.loop import train
    from tlcore.train.strategies import StrategyConfig

    import shutil

    from tlcore.workspace import Workspace

    shared, dataset, _ = saved_run
    ws = Workspace(shutil.copytree(shared.root, tmp_path / "ws"))  # a copy: the session's workspace stays as it was
    config = TrainConfig(backbone=PIXELS_BACKBONE, strategy=StrategyConfig(head_lr=1e-2), epochs=1, batch_size=8,
                         patience=0, augment=NO_AUGMENT, val_fraction=0.2, test_fraction=0.4, seed=0)
    run_id = save_run(ws, train(ws, dataset, config), dataset, label="pixels")
    data = build_run_report(ws, run_id, methods=("gradcam", "saliency"), per_group=1, sanity_images=1)
    assert len(data.notes) == 1 and data.notes[0].startswith("Grad-CAM is left out of this report")
    items = (*data.correct, *data.wrong)
    assert items and all(set(item.overlays) == {"Saliency"} for item in items)
    assert [s.method for s in data.sanity] == ["saliency"]
    assert "Grad-CAM is left out" in render_report(data)
    only_cam = build_run_report(ws, run_id, methods=("gradcam",), per_group=1, sanity_images=1)
    plain = (*only_cam.correct, *only_cam.wrong)
    assert len(plain) == len(items) and all(not item.overlays for item in plain) and not only_cam.sanity
    assert all(item.image.ndim == 3 and item.image.dtype.name == "uint8" for item in plain)
