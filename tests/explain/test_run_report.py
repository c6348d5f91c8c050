"""The review report of a saved run: every section, real numbers from the run, self-contained."""

from __future__ import annotations

import re

import pytest

from tlcore.explain import SECTIONS, ExplainError
from tlcore.explain.run_report import build_run_report, write_run_report
from tlcore.runs.records import get_run


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
    assert not re.search(r"(src|href)\s*=\s*['\"](https?:)?//", html) and "<script" not in html


def test_report_refuses_unknown_methods(saved_run):
    ws, _, run_id = saved_run
    with pytest.raises(ExplainError, match="unknown method 'lime'"):
        build_run_report(ws, run_id, methods=("lime",))
