"""One epoch's helpers (tlcore.train.epoch): the per-epoch balanced accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.metrics import classification_metrics
from tlcore.train.epoch import balanced_accuracy


def test_the_per_epoch_balanced_accuracy_matches_the_metrics_module():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=50)
    labels[labels == 2] = 1  # class 2 absent from the labels
    probs = rng.dirichlet(np.ones(5), size=50)
    expected = classification_metrics(labels, probs, list("abcde"))["balanced_accuracy"]
    assert balanced_accuracy(labels, probs, 5) == pytest.approx(expected)
    assert np.isnan(balanced_accuracy(np.zeros(0, dtype=np.int64), np.zeros((0, 5)), 5))
