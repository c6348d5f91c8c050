"""A model that only looks at the top-left quadrant: every method must put its mass there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.explain import METHOD_NAMES, ExplainConfig, explain


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("target", [0, 1])
def test_attribution_mass_lands_in_the_quadrant_the_model_reads(corner_net, method, target):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    out = explain(corner_net, x, [target, target], ExplainConfig(method, window=8, stride=4, samples=8, steps=16))
    for a in out:
        mass = np.abs(a.map)
        share = mass[:32, :32].sum() / mass.sum()
        assert share > 0.8, f"{method}: only {share:.0%} of the attribution in the top-left quadrant"


def test_the_quadrant_test_can_fail():
    """Sanity of the test itself: a map spread evenly puts only a quarter of its mass in the quadrant."""
    even = np.ones((64, 64))
    assert even[:32, :32].sum() / even.sum() == pytest.approx(0.25)
