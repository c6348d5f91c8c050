"""Explaining a saved run: test-image filters, targets, maps aligned with what the model saw, trust checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tlcore.explain import ExplainError, hook_count
from tlcore.explain.run_images import explain_run, explain_test_images, pick_test_images, resolve_target


def test_filters_follow_the_recorded_test_predictions(saved_run, run):
    _, dataset, _ = saved_run
    everything = pick_test_images(run, dataset, "all", limit=100)
    assert len(everything) == len(run.split.test)
    wrong = pick_test_images(run, dataset, "wrong", limit=100)
    correct = pick_test_images(run, dataset, "correct", limit=100)
    assert {p.index for p in wrong} | {p.index for p in correct} == {p.index for p in everything}
    assert all(p.predicted != p.true_label for p in wrong) and all(p.predicted == p.true_label for p in correct)
    mistakes = pick_test_images(run, dataset, "confident-mistakes", limit=100)
    assert [p.probability for p in mistakes] == sorted((p.probability for p in wrong), reverse=True)
    only_blue = pick_test_images(run, dataset, "all", class_index=dataset.classes.index("blue"), limit=100)
    assert only_blue and all(dataset.classes[p.true_label] == "blue" for p in only_blue)
    assert len(pick_test_images(run, dataset, "all", limit=3)) == 3
    with pytest.raises(ExplainError, match="filter 'odd' is unknown"):
        pick_test_images(run, dataset, "odd")


def test_targets():
    classes = ("a", "b", "c")
    assert resolve_target("predicted", classes, 1, 2) == 1
    assert resolve_target("true", classes, 1, 2) == 2
    assert resolve_target("c", classes, 1, None) == 2
    assert resolve_target(0, classes, 1, None) == 0
    assert resolve_target("2", classes, 1, None) == 2
    assert resolve_target("1", ("1", "0"), 0, None) == 0  # a class name wins over an index
    with pytest.raises(ExplainError, match="needs the images' true classes"):
        resolve_target("true", classes, 1, None)
    with pytest.raises(ExplainError, match="not 'predicted', 'true' or one of the run's classes"):
        resolve_target("d", classes, 1, None)
    with pytest.raises(ExplainError, match="out of range"):
        resolve_target(7, classes, 1, None)


def test_explain_test_images_with_checks(saved_run, run):
    ws, dataset, _ = saved_run
    picks = pick_test_images(run, dataset, "all", limit=3)
    before = [p.clone() for p in run.model.parameters()]
    result = explain_test_images(ws, run, picks, ["gradcam", "saliency"], target="true", sanity=True,
                                 check_faithfulness=True)
    assert result.methods == ("gradcam", "saliency") and len(result.images) == 3
    for pick, item in zip(picks, result.images):
        assert item.image.shape == (48, 48, 3) and item.image.dtype == np.uint8
        assert item.target == pick.true_label and item.true_label == pick.true_label
        assert item.predicted == pick.predicted  # same model, same preprocessing as the recorded test predictions
        assert item.probs[item.predicted] == pytest.approx(pick.probability, abs=1e-5)
        for method in result.methods:
            assert item.maps[method].map.shape == (48, 48)
    assert set(result.sanity) == {"gradcam", "saliency"} and len(result.faithfulness["saliency"]) == 3
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.parameters()))  # the shared model is untouched
    assert hook_count(run.model) == 0


def test_uploaded_images_are_preprocessed_like_the_run(saved_run, run, tmp_path):
    ws, _, _ = saved_run
    picture = np.zeros((60, 90, 3), dtype=np.uint8)
    picture[:, :, 2] = 200  # blue, wider than tall: resized and centre-cropped to 48 x 48
    path = tmp_path / "blue.png"
    Image.fromarray(picture).save(path)
    result = explain_run(ws, run.id, [path, path.read_bytes()], "occlusion", names=["a", "b"],
                         settings={"window": 8, "stride": 8}, target="red")
    assert [im.name for im in result.images] == ["a", "b"]
    assert all(im.target == run.classes.index("red") and im.true_label is None for im in result.images)
    assert result.images[0].image.shape == (48, 48, 3) and result.images[0].image[..., 2].mean() > 150
    assert np.array_equal(result.images[0].maps["occlusion"].map, result.images[1].maps["occlusion"].map)
    with pytest.raises(ExplainError, match="unknown method 'lime'"):
        explain_run(ws, run, [path], ["lime"])
    with pytest.raises(ExplainError, match="ExplainConfig.steps"):
        explain_run(ws, run, [path], "integrated-gradients", settings={"steps": 0})


