"""borrowed(): the model comes back exactly as it was, even if hooks were left behind by a failure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.explain.conftest import CornerNet
from tlcore.explain import borrowed, hook_count


def test_borrowed_sets_eval_and_frozen_parameters_then_restores_mixed_state():
    model = CornerNet()
    model.train()
    model.features[0].eval()
    model.head.weight.requires_grad_(False)
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    with borrowed(model):
        assert not any(m.training for m in model.modules())
        assert not any(p.requires_grad for p in model.parameters())
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags


def test_borrowed_removes_hooks_left_behind_when_the_work_fails_and_keeps_the_callers_own():
    model = CornerNet()
    own = model.head.register_forward_hook(lambda m, i, o: None)
    with pytest.raises(RuntimeError, match="failed half-way"):
        with borrowed(model):
            model.features[0].register_forward_hook(lambda m, i, o: None)
            model.features[2].register_forward_pre_hook(lambda m, i: None)
            model.features[3].register_full_backward_hook(lambda m, gi, go: None)
            model.features.register_forward_hook(lambda m, i, kw, o: None, with_kwargs=True)
            assert hook_count(model) == 5
            raise RuntimeError("failed half-way")
    assert hook_count(model) == 1
    assert list(model.head._forward_hooks) == [own.id]
    assert model.features._forward_hooks_with_kwargs == {}
    model(torch.randn(1, 3, 8, 8)).sum().backward()  # still a working model (no stale backward hook state)
    own.remove()
    assert hook_count(model) == 0


def test_hook_count_sees_every_kind():
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].register_forward_hook(lambda m, i, o: None)
    model.register_forward_pre_hook(lambda m, i: None)
    model[0].register_full_backward_hook(lambda m, gi, go: None)
    model[0].register_full_backward_pre_hook(lambda m, go: None)
    assert hook_count(model) == 4
