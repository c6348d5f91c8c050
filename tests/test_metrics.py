import numpy as np
import pytest

from tlcore.metrics import classification_metrics, most_confused_pairs


def test_metrics_on_a_known_confusion():
    y = np.array([0, 0, 0, 1, 1, 2])
    probs = np.array([[.9, .1, 0], [.8, .2, 0], [.2, .8, 0], [.1, .9, 0], [.1, .9, 0], [.1, .1, .8]])
    m = classification_metrics(y, probs, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert m["confusion"] == [[2, 1, 0], [0, 2, 0], [0, 0, 1]]
    per = {r["class"]: r for r in m["per_class"]}
    assert per["a"]["recall"] == pytest.approx(2 / 3) and per["b"]["precision"] == pytest.approx(2 / 3)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([.9, .8, .2, .9, .9, .8])), rel=1e-6)
    assert m["n"] == 6
    assert m["macro_f1"] == pytest.approx((0.8 + 0.8 + 1) / 3)  # a: P 1, R 2/3; b: P 2/3, R 1; c: 1
    absent = classification_metrics(y, np.hstack([probs, np.zeros((6, 1))]), ["a", "b", "c", "d"])
    assert absent["macro_f1"] == pytest.approx((0.8 + 0.8 + 1 + 0) / 4)  # a class nobody has or predicts counts as 0


def test_most_confused_pairs_are_sorted():
    cm = [[5, 3, 0], [1, 4, 0], [0, 2, 7]]
    pairs = most_confused_pairs(cm, ["a", "b", "c"], top=2)
    assert pairs == [{"true": "a", "predicted": "b", "count": 3}, {"true": "c", "predicted": "b", "count": 2}]
