"""ExplainConfig refuses settings outside its limits and says which one."""

from __future__ import annotations

import pytest

from tlcore.explain import ExplainConfig, ExplainError


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(method="guided-backprop"), "unknown method"),
        (dict(method="integrated-gradients", steps=10_000), "ExplainConfig.steps must be a whole number from 1"),
        (dict(method="smoothgrad", stdev=2.0), "ExplainConfig.stdev"),
        (dict(method="smoothgrad", smooth_base="occlusion"), "ExplainConfig.smooth_base"),
        (dict(method="occlusion", internal_batch_size=0), "ExplainConfig.internal_batch_size"),
    ],
)
def test_config_limits(bad, message):
    with pytest.raises(ExplainError, match=message):
        ExplainConfig(**bad)
