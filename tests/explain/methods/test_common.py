"""The noisy methods are seeded (same seed, same map) and put the caller's random state back."""

from __future__ import annotations

import numpy as np
import torch

from tests.explain.conftest import tiny_transfer_model
from tlcore.explain import ExplainConfig, explain


def test_stochastic_methods_are_seeded_and_leave_global_randomness_alone():
    model = tiny_transfer_model("timm/test_efficientnet")
    x = torch.randn(1, 3, 64, 64)
    for method in ("smoothgrad", "gradient-shap"):
        torch.manual_seed(123)
        first = explain(model, x, [0], ExplainConfig(method, samples=3))[0].map
        after_first = torch.rand(1), np.random.rand()
        torch.manual_seed(123)
        second = explain(model, x, [0], ExplainConfig(method, samples=3))[0].map
        assert np.array_equal(first, second)
        assert torch.equal(torch.rand(1), after_first[0]) and np.random.rand() != after_first[1]
        other = explain(model, x, [0], ExplainConfig(method, samples=3, seed=1))[0].map
        assert not np.array_equal(first, other)
