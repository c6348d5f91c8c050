"""Training runs saved and rebuilt: identical predictions after a reload, and a record that reproduces the run."""

from __future__ import annotations

import numpy as np
import torch

from tlcore.data.augment import eval_transform
from tlcore.evaluate.predict import predict_images
from tlcore.models.inference import predict_stored
from tlcore.runs.records import get_run, run_files
from tlcore.runs.store import load_run


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


