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




# --- Files read back are untrusted (issue 20): hash and shape checks, lazy and pickle-free test probabilities ---

import hashlib  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402

from tlcore.errors import TlcoreError  # noqa: E402
from tlcore.runs.checks import RunDamaged  # noqa: E402


def _rewrite_weights(ws, run_id, change_meta=None, change_state=None, rehash=True):
    """Write the run's weights file again with changed metadata/tensors (and the new hash in run.json)."""
    path = ws.runs / run_id / "model.safetensors"
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["tlcore"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    if change_meta:
        change_meta(meta)
    if change_state:
        change_state(state)
    path.write_bytes(safetensors.torch.save(state, metadata={"tlcore": json.dumps(meta)}))
    record_path = ws.runs / run_id / "run.json"
    record = json.loads(record_path.read_text())
    if rehash:
        record["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        record.pop("weights_sha256", None)
    record_path.write_text(json.dumps(record))


def test_the_weights_hash_is_recorded_at_save_and_checked_at_load(ws, trained):  # noqa: F811
    _, run_id = trained
    path = ws.runs / run_id / "model.safetensors"
    assert get_run(ws, run_id)["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte in the tensors: still a valid safetensors file
    path.write_bytes(bytes(data))
    with pytest.raises(RunDamaged, match=f"run {run_id} is damaged: model.safetensors does not match the sha256"):
        load_run(ws, run_id)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(num_classes=5), "'num_classes' is 5, but it lists 3 classes"),
    (lambda m: m.pop("head"), "metadata has no 'head'"),
    (lambda m: m.update(head="mlp"), "does not fit the model its metadata describes: it lacks tensor"),
    (lambda m: m.update(classes=["x", "y", "z"]), "lists other classes than run.json"),
    (lambda m: m.update(data_config="bicubic"), "'data_config' is not an object"),
])
def test_metadata_that_does_not_describe_the_tensors_is_refused_before_loading(ws, trained, change, message):
    _, run_id = trained
    _rewrite_weights(ws, run_id, change_meta=change)
    with pytest.raises(RunDamaged, match=f"run {run_id} is damaged: ") as err:
        load_run(ws, run_id)
    assert message in str(err.value) and "model.safetensors" in str(err.value)


def test_a_tensor_of_another_shape_or_with_nan_is_named(ws, trained):  # noqa: F811
    _, run_id = trained
    head, shape = next((k, v.shape) for k, v in load_run(ws, run_id).model.state_dict().items()
                       if k.startswith("head") and k.endswith("weight"))
    _rewrite_weights(ws, run_id, change_state=lambda s: s.__setitem__(head, torch.zeros(7, 7)), rehash=False)
    with pytest.raises(RunDamaged, match=f"tensor '{head}' has shape \\[7, 7\\]"):
        load_run(ws, run_id)
    _rewrite_weights(ws, run_id, change_state=lambda s: s.__setitem__(head, torch.full(shape, float("nan"))))
    with pytest.raises(RunDamaged, match=f"tensor '{head}' holds NaN"):
        load_run(ws, run_id)


def test_non_finite_probabilities_are_refused_not_printed(ws, dataset, trained):  # noqa: F811
    _, run_id = trained
    run = load_run(ws, run_id)
    from tlcore.data import load_image

    with torch.no_grad():
        for p in run.model.head.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TlcoreError, match=f"run {run_id} gives no usable probabilities for x.png"):
        predict_images(run, [load_image(ws, dataset.hashes[0])], names=["x.png"])


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _pickled(path):
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def _wrong_shape(path):
    np.save(path, np.zeros((2, 2), dtype=np.float32))


def _not_probabilities(path):
    probs = np.load(path)
    probs[0, 0] = np.nan
    np.save(path, probs)


@pytest.mark.parametrize("spoil, message", [
    (_truncate, "test_probs.npy is not a readable numeric array"),
    (_pickled, "test_probs.npy is not a readable numeric array"),
    (_wrong_shape, "test_probs.npy has shape [2, 2]"),
    (_not_probabilities, "values that are not probabilities"),
    (lambda path: path.unlink(), "test_probs.npy is missing"),
])
def test_test_probabilities_are_read_only_when_used_and_never_unpickled(ws, dataset, trained, spoil, message):
    from tlcore.data import load_image

    _, run_id = trained
    spoil(ws.runs / run_id / "test_probs.npy")
    run = load_run(ws, run_id)  # predicting new images does not need the recorded test predictions
    assert len(predict_images(run, [load_image(ws, dataset.hashes[0])], names=["x.png"])) == 1
    with pytest.raises(RunDamaged, match=f"run {run_id} is damaged: ") as err:
        run.test_probs
    assert message in str(err.value)


def test_split_indices_out_of_range_for_the_dataset_are_refused(ws, dataset, trained):  # noqa: F811
    _, run_id = trained
    path = ws.runs / run_id / "run.json"
    record = json.loads(path.read_text())
    record.pop("n_images")  # as a run saved before n_images was recorded: checked against the dataset instead
    record["split"]["test"].append(len(dataset) + 5)
    path.write_text(json.dumps(record))
    with pytest.raises(RunDamaged, match=f"index {len(dataset) + 5} is out of range for dataset {dataset.id}"):
        load_run(ws, run_id)
