"""Statistics over folds: mean, sample standard deviation and the t-interval."""

from __future__ import annotations

import math

import pytest

from tlcore.evaluate.statistics import summarize_values


def test_summary_is_mean_sample_std_and_a_t_interval():
    s = summarize_values([0.8, 0.9, 1.0])
    assert s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    assert s["ci_half_width"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
    assert s["ci_low"] == pytest.approx(0.9 - s["ci_half_width"]) and s["n"] == 3
    assert summarize_values([0.5, float("nan"), 0.7])["n"] == 2
