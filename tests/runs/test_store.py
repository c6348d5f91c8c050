"""The run store: save, reload with identical predictions, list/filter/delete, and crash safety."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import torch

from tests.conftest import fresh_backbone, tiny_config
from tlcore.data.augment import eval_transform
from tlcore.errors import RunNotFound
from tlcore.evaluate.predict import predict_images
from tlcore.models.inference import predict_stored
from tlcore.runs.store import delete_run, get_run, list_runs, load_run, reconcile, run_files, save_run, write_run
from tlcore.train.loop import train


@pytest.fixture
def trained(ws, dataset):  # noqa: F811
    result = train(ws, dataset, tiny_config("fine-tune", epochs=2), backbone=fresh_backbone())
    return result, save_run(ws, result, dataset, label="first")


def test_a_saved_run_reloads_with_identical_predictions(ws, dataset, trained):  # noqa: F811
    result, run_id = trained
    run = load_run(ws, run_id)
    assert run.classes == dataset.classes
    np.testing.assert_array_equal(run.split.test, result.split.test)
    hashes = [dataset.hashes[i] for i in run.split.test]
    probs = predict_stored(run.model, ws, hashes, eval_transform(run.data_config, run.image_size))
    np.testing.assert_array_equal(probs, run.test_probs)
    np.testing.assert_array_equal(probs, result.test_probs)
    for a, b in zip(run.model.state_dict().values(), result.model.state_dict().values()):
        assert torch.equal(a, b)


def test_the_record_holds_what_reproduces_the_run(ws, dataset, trained):  # noqa: F811
    result, run_id = trained
    record = get_run(ws, run_id)
    assert record["dataset_id"] == dataset.id and record["seed"] == 0
    assert record["split"]["test"] == result.split.test.tolist()
    assert record["config"]["strategy"]["name"] == "fine-tune"
    assert len(record["history"]) == 2 and record["test_metrics"]["n"] == len(result.split.test)
    assert {"torch", "timm", "python", "tlcore"} <= set(record["versions"])
    assert set(run_files(ws, run_id)) == {"run.json", "model.safetensors", "test_probs.npy"}


def test_predict_new_images_top_k(ws, dataset, trained, tmp_path):  # noqa: F811
    _, run_id = trained
    run = load_run(ws, run_id)
    from tlcore.data import load_image

    img = load_image(ws, dataset.hashes[0])
    preds = predict_images(run, [img], names=["x.png"], top_k=2)
    assert len(preds) == 1 and len(preds[0].top) == 2
    assert preds[0].top[0][1] >= preds[0].top[1][1]
    assert {c for c, _ in preds[0].top} <= set(dataset.classes)


def test_list_filter_and_delete(ws, dataset, trained):  # noqa: F811
    _, first = trained
    result = train(ws, dataset, tiny_config("feature-extraction", epochs=1), backbone=fresh_backbone())
    second = save_run(ws, result, dataset)
    assert [r.id for r in list_runs(ws)] == [second, first]
    assert [r.id for r in list_runs(ws, strategy="fine-tune")] == [first]
    row = list_runs(ws, strategy="feature-extraction")[0]
    assert row.test_accuracy == pytest.approx(result.test_metrics["accuracy"]) and row.epochs == 1
    delete_run(ws, first)
    assert [r.id for r in list_runs(ws)] == [second]
    with pytest.raises(RunNotFound):
        load_run(ws, first)


def test_a_write_that_fails_halfway_leaves_no_run(ws):
    def boom(path):
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    record = {"id": "r1", "created": 1.0, "dataset_id": "d"}
    with pytest.raises(OSError):
        write_run(ws, record, {"model.safetensors": boom})
    assert list_runs(ws) == [] and not (ws.runs / "r1").exists()
    assert not list(ws.tmp.iterdir())


def test_reconcile_repairs_the_index_and_clears_dead_temp_folders(ws, dataset, trained):  # noqa: F811
    _, run_id = trained
    with sqlite3.connect(ws.index_db) as con:
        con.execute("DELETE FROM runs")
        con.execute("INSERT INTO runs (id, created, dataset_id) VALUES ('ghost', 0, 'x')")
    dead = ws.tmp / "run-x.999999.tmp"
    dead.mkdir()
    (dead / "run.json").write_text(json.dumps({"id": "x"}))
    reconcile(ws)
    assert [r.id for r in list_runs(ws)] == [run_id]
    assert not dead.exists()


def test_bad_run_ids_are_refused(ws):
    for bad in ("../etc", "", ".hidden", "a/b"):
        with pytest.raises(RunNotFound):
            get_run(ws, bad)
