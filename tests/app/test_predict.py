"""Predict page: empty state, top-k for images from the test split and for uploads (bad files skipped)."""

from __future__ import annotations

from tests.app.conftest import COLOURS, markdowns, open_page, png_bytes, texts

PREDICT = "pages/4_Predict.py"


def test_without_runs_the_page_says_what_to_do(ws):
    at = open_page(PREDICT)
    assert not at.exception
    assert any("No saved runs yet" in s for s in markdowns(at))


def test_images_from_the_test_split_get_top_k_with_truth(ws, dataset, run_id):
    at = open_page(PREDICT, tl_dataset_id=dataset.id)
    assert at.selectbox(key="predict-run").value == run_id
    at.radio(key="predict-source").set_value("Images from the run's test split").run()
    at.slider(key="predict-count").set_value(5)
    at.slider(key="predict-topk-k").set_value(2)
    at.run()
    at.button(key="predict-go").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 5 and {"#1", "p1", "#2", "p2", "true class"} <= set(table.columns)
    assert set(table["#1"]) <= {"blue", "green", "red"}
    assert (table["p1"] >= table["p2"]).all()
    assert at.metric[0].label == "Correct"
    assert len(at.image) == 5 + 1  # the grid + the detail image


def test_uploaded_images_are_classified_and_bad_files_skipped(ws, dataset, run_id, released):
    at = open_page(PREDICT, tl_dataset_id=dataset.id, tl_run_id=run_id)
    files = [("red.png", png_bytes(COLOURS["red"]), "image/png"), ("blue.png", png_bytes(COLOURS["blue"]), "image/png"),
             ("notes.txt", b"not an image", "text/plain")]
    at.file_uploader(key="predict-upload-0").set_value(files).run()
    at.button(key="predict-go").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["image"]) == ["red.png", "blue.png"]
    assert abs(table["p1"] + table["p2"] + table["p3"] - 1).max() < 1e-3  # 3 classes: top-3 covers everything
    assert any(t.startswith("Skipped notes.txt: ") for t in texts(at))
    assert at.session_state["tl_predict_upload_generation"] == 1  # the uploader was cleared
    assert len(released) == 3 and released[-1][1] == 0  # and the server's copy of the bytes freed at once
