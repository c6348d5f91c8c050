"""Deletion/insertion: a map that points where the model looks beats random; one that points elsewhere does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.explain.conftest import TopLeft
from tlcore.explain import ExplainConfig, ExplainError, explain, faithfulness, hook_count


class RedCorner(nn.Module):
    """Logit 0 grows with the red channel in the top-left quadrant; logit 1 shrinks with it."""

    def __init__(self) -> None:
        super().__init__()
        self.red = nn.Conv2d(3, 1, 1, bias=False)
        self.head = nn.Linear(1, 2)
        with torch.no_grad():
            self.red.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1))
            self.head.weight.copy_(torch.tensor([[24.0], [-24.0]]))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(TopLeft()(self.red(x)).mean(dim=(2, 3)))


@pytest.fixture
def confident_corner():
    torch.manual_seed(0)
    model = RedCorner()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.softmax(model(x), 1)[0, 0] > 0.99
    return model, x, 0


def test_a_map_on_the_quadrant_the_model_reads_is_faithful(confident_corner):
    model, x, target = confident_corner
    (a,) = explain(model, x, [target], ExplainConfig("integrated-gradients"))
    f = faithfulness(model, x, target, a.map, steps=16)
    assert len(f.deletion) == len(f.insertion) == len(f.random_deletion) == len(f.fractions) == 17
    assert f.deletion[0] == pytest.approx(f.random_deletion[0])  # both start from the full image
    assert f.deletion_auc < f.random_deletion_auc
    assert f.score > 0.05 and f.verdict.startswith("Faithful")
    assert f.insertion_auc > f.deletion_auc
    assert hook_count(model) == 0


def test_a_map_on_the_ignored_area_is_not_faithful(confident_corner):
    model, x, target = confident_corner
    wrong = np.zeros((32, 32), dtype=np.float32)
    wrong[16:, 16:] = 1.0  # the bottom-right quadrant, which the model never reads
    f = faithfulness(model, x, target, wrong, steps=16)
    assert f.score < 0.02
    assert not f.verdict.startswith("Faithful")


def test_faithfulness_refuses_a_batch():
    with pytest.raises(ExplainError, match="needs one image"):
        faithfulness(torch.nn.Identity(), torch.zeros(2, 3, 8, 8), 0, np.zeros((8, 8)))
