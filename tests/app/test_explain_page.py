"""Explain page: empty state, maps for test images with the sanity verdict, uploads, and the review report."""

from __future__ import annotations

from tests.app.conftest import COLOURS, markdowns, open_page, png_bytes, run_until
from tlcore.explain import SECTIONS

PAGE = "pages/5_Explain.py"


def _has_result(at) -> bool:
    return at.session_state["tl_explain_result"] is not None if "tl_explain_result" in at.session_state else False


def test_without_runs_the_page_points_to_train(ws):
    at = open_page(PAGE)
    assert not at.exception
    assert any("No saved runs yet" in s for s in markdowns(at))


def test_grid_of_maps_for_test_images_with_the_sanity_verdict(ws, dataset, run_id):
    at = open_page(PAGE, tl_run_id=run_id)
    assert not at.exception
    assert at.title[0].value == "Explain"
    at.selectbox(key="explain-filter").set_value("all").run()
    at.slider(key="explain-count").set_value(3).run()
    at.multiselect(key="explain-methods").set_value(["gradcam", "saliency"]).run()
    at.button(key="explain-go").click().run()
    assert not at.exception
    result = at.session_state["tl_explain_result"]
    assert result.run_id == run_id and len(result.images) == 3 and result.methods == ("gradcam", "saliency")
    shown = markdowns(at)
    headers = [s for s in shown if "predicted" in s and "maps explain" in s]
    assert len(headers) == 3 and all("true:" in h for h in headers)
    assert len(at.image) == 9  # a row per image: the picture, then one overlay per method
    verdicts = [s for s in shown if "Grad-CAM passes" in s or "Grad-CAM fails" in s]
    assert len(verdicts) == 1 and any("Saliency" in s and "rank correlation" in s for s in shown)


def test_uploaded_images_and_a_fixed_target_class(ws, dataset, run_id):
    at = open_page(PAGE, tl_run_id=run_id)
    at.radio(key="explain-source").set_value("Upload images").run()
    at.file_uploader(key="explain-upload-0").set_value(
        [("sky.png", png_bytes(COLOURS["blue"], size=40), "image/png"),
         ("tomato.png", png_bytes(COLOURS["red"], size=40, seed=1), "image/png")]).run()
    assert "true" not in at.selectbox(key="explain-target").options  # unknown for uploads
    at.selectbox(key="explain-target").set_value(0).run()  # classes are sorted: 0 is "blue"
    at.multiselect(key="explain-methods").set_value(["saliency"]).run()
    at.checkbox(key="explain-sanity").uncheck().run()
    at.button(key="explain-go").click().run()
    assert not at.exception
    result = at.session_state["tl_explain_result"]
    assert [im.name for im in result.images] == ["sky.png", "tomato.png"]
    assert all(im.target == 0 and im.true_label is None for im in result.images) and not result.sanity
    assert sum("maps explain *blue*" in s for s in markdowns(at)) == 2


def test_slow_methods_with_faithfulness(ws, dataset, run_id):
    at = open_page(PAGE, tl_run_id=run_id)
    at.selectbox(key="explain-filter").set_value("all").run()
    at.slider(key="explain-count").set_value(2).run()
    at.multiselect(key="explain-methods").set_value(["integrated-gradients"]).run()
    at.checkbox(key="explain-faith").check().run()
    at.button(key="explain-go").click().run()
    run_until(at, _has_result)  # slow methods run as a background job
    assert not at.exception
    result = at.session_state["tl_explain_result"]
    assert result.methods == ("integrated-gradients",) and len(result.faithfulness["integrated-gradients"]) == 2
    assert sum("faithful" in c.value.lower() for c in at.caption) == 2


def test_review_report_download(ws, dataset, run_id):
    at = open_page(PAGE, tl_run_id=run_id)
    at.multiselect(key="explain-methods").set_value(["gradcam"]).run()
    at.button(key="explain-report-go").click().run()
    run_until(at, lambda a: "tl_explain_report" in a.session_state and a.session_state["tl_explain_report"])
    assert not at.exception
    report_run, html = at.session_state["tl_explain_report"]
    assert report_run == run_id
    text = html.decode("utf-8")
    for sid, _ in SECTIONS:
        assert f"<section id='{sid}'>" in text
    assert at.get("download_button")
