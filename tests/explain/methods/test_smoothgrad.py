"""SmoothGrad: averaged over Integrated Gradients, the map keeps its sign."""

from __future__ import annotations

import torch

from tests.explain.conftest import tiny_transfer_model
from tlcore.explain import ExplainConfig, explain


def test_smoothgrad_over_integrated_gradients_is_signed():
    model = tiny_transfer_model("timm/test_resnet")
    (a,) = explain(model, torch.randn(1, 3, 64, 64), [0], ExplainConfig("smoothgrad", samples=2, steps=4,
                                                                        smooth_base="integrated-gradients"))
    assert a.map.min() < 0 < a.map.max()
