"""Integrated Gradients: a small convergence delta, and the map adds up to the score difference."""

from __future__ import annotations

import pytest
import torch

from tests.explain.conftest import tiny_transfer_model
from tlcore.explain import ExplainConfig, explain


def test_integrated_gradients_reports_a_small_convergence_delta():
    model = tiny_transfer_model("timm/test_resnet")
    x = torch.randn(1, 3, 64, 64)
    (a,) = explain(model, x, [1], ExplainConfig("integrated-gradients", steps=64))
    with torch.no_grad():
        model.eval()
        diff = float(model(x)[0, 1] - model(torch.zeros_like(x))[0, 1])
    assert a.delta is not None
    assert abs(a.delta) < 0.05 * max(abs(diff), 1e-3)
    assert a.map.sum() == pytest.approx(diff, abs=0.05 * max(abs(diff), 1e-3))  # completeness
