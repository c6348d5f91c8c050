"""Explanations saved to a folder and read back: the same images, maps and checks."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.explain import ExplainError
from tlcore.explain.archive import load_explanation, save_explanation
from tlcore.explain.run_images import explain_test_images, pick_test_images


def test_saved_explanations_round_trip(saved_run, run, tmp_path):
    ws, dataset, _ = saved_run
    picks = pick_test_images(run, dataset, "all", limit=2)
    result = explain_test_images(ws, run, picks, ["integrated-gradients"], sanity=True, check_faithfulness=True,
                                 settings={"steps": 4})
    back = load_explanation(save_explanation(tmp_path / "x", result))
    assert back.run_id == result.run_id and back.classes == result.classes and back.methods == result.methods
    assert back.sanity == result.sanity and back.faithfulness == result.faithfulness
    for a, b in zip(result.images, back.images):
        assert np.array_equal(a.image, b.image) and np.allclose(a.probs, b.probs)
        assert (a.name, a.predicted, a.true_label, a.target) == (b.name, b.predicted, b.true_label, b.target)
        assert np.array_equal(a.maps["integrated-gradients"].map, b.maps["integrated-gradients"].map)
        assert a.maps["integrated-gradients"].delta == b.maps["integrated-gradients"].delta
    with pytest.raises(ExplainError, match="no readable explanation"):
        load_explanation(tmp_path / "nothing")
