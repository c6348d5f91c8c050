"""The explain and report job functions, called the way a worker calls them."""

from __future__ import annotations

import pytest

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, ignore_event
from tlcore.explain.archive import load_explanation
from tlcore.jobs.kinds.explain import explain_task, report_task


def test_explain_task_on_stored_images(saved_run):
    ws, dataset, run_id = saved_run
    hashes = [dataset.records[i].hash for i in (0, 15)]
    events = []
    result = explain_task({"run_id": run_id, "methods": ["gradcam", "smoothgrad"], "hashes": hashes,
                           "target": "true", "sanity": True, "settings": {"samples": 2}},
                          ws, events.append, CancelToken())
    assert result["images"] == 2 and result["methods"] == ["gradcam", "smoothgrad"]
    assert set(result["sanity"]) == {"gradcam", "smoothgrad"}
    saved = load_explanation(ws.root / result["folder"])
    assert [im.true_label for im in saved.images] == [dataset.records[0].label, dataset.records[15].label]
    assert [im.target for im in saved.images] == [im.true_label for im in saved.images]
    assert any(getattr(e, "phase", "") == "Grad-CAM" for e in events)


def test_explain_task_on_files_inside_the_workspace_only(saved_run, tmp_path):
    ws, dataset, run_id = saved_run
    inside = ws.image_path(dataset.records[3].hash)
    result = explain_task({"run_id": run_id, "methods": ["saliency"], "files": [str(inside)], "names": ["x.png"]},
                          ws, ignore_event, CancelToken())
    assert load_explanation(ws.root / result["folder"]).images[0].name == "x.png"
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(inside.read_bytes())
    with pytest.raises(TlcoreError, match="outside the workspace"):
        explain_task({"run_id": run_id, "methods": ["saliency"], "files": [str(outside)]}, ws, ignore_event,
                     CancelToken())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"methods": ["saliency"], "hashes": ["a"]}, "'run_id' is missing"),
        ({"run_id": "r", "methods": [], "hashes": ["a"]}, "'methods' must be a non-empty list"),
        ({"run_id": "r", "methods": ["saliency"]}, "either 'hashes'"),
        ({"run_id": "r", "methods": ["saliency"], "hashes": ["a"], "settings": {"layer": "x"}}, "may only hold"),
    ],
)
def test_explain_task_settings_are_checked(saved_run, params, message):
    ws, _, _ = saved_run
    with pytest.raises(TlcoreError, match=message):
        explain_task(params, ws, ignore_event, CancelToken())


def test_explain_task_can_be_cancelled(saved_run):
    ws, dataset, run_id = saved_run
    token = CancelToken()
    token.cancel()
    with pytest.raises(TlcoreError, match="cancelled"):
        explain_task({"run_id": run_id, "methods": ["saliency"], "hashes": [dataset.records[0].hash]}, ws,
                     ignore_event, token)


def test_report_task_writes_html_into_the_workspace(saved_run):
    ws, _, run_id = saved_run
    result = report_task({"run_id": run_id, "methods": ["gradcam"], "per_group": 1, "sanity_images": 1}, ws,
                         ignore_event, CancelToken())
    path = ws.root / result["path"]
    assert path.suffix == ".html" and path.stat().st_size == result["bytes"]
    assert "<section id='sanity'>" in path.read_text(encoding="utf-8")
    with pytest.raises(TlcoreError, match="'per_group' must be a whole number"):
        report_task({"run_id": run_id, "per_group": 100}, ws, ignore_event, CancelToken())
