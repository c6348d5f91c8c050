"""explain(): every method on every tiny backbone, model left as it was, errors that say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.explain.conftest import TINY_BACKBONES, CornerNet, tiny_transfer_model
from tlcore.explain import (
    METHOD_NAMES,
    METHODS,
    ExplainConfig,
    ExplainError,
    MethodUnavailable,
    explain,
    hook_count,
    method_availability,
    predicted_targets,
)
from tlcore.explain.guard import HOOK_DICTS

FAST = dict(steps=8, samples=4, window=32, stride=32)


def _state(model: nn.Module) -> tuple[list[bool], list[bool]]:
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


def _no_hooks(model: nn.Module) -> bool:
    return all(len(getattr(m, d)) == 0 for m in model.modules() for d in HOOK_DICTS if hasattr(m, d))


@pytest.fixture(scope="module", params=TINY_BACKBONES)
def tiny_model(request) -> nn.Module:
    model = tiny_transfer_model(request.param)
    model.set_trainable(1)  # a realistic mix: frozen groups in eval mode, the rest training
    model.train()
    return model


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_on_every_tiny_backbone_gives_a_finite_map_of_the_image_size(tiny_model, method):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 160, 160)
    before = _state(tiny_model)
    out = explain(tiny_model, x, [0, 2], ExplainConfig(method, **FAST))
    assert [a.target for a in out] == [0, 2]
    for a in out:
        assert a.map.shape == (160, 160) and a.map.dtype == np.float32
        assert np.isfinite(a.map).all()
        assert a.map.std() > 0  # a real map, not a constant
        assert a.method == method and a.seconds > 0
    assert _state(tiny_model) == before
    assert _no_hooks(tiny_model)


def test_large_inputs_are_attributed_downscaled_and_maps_come_back_at_input_size():
    model = CornerNet()
    x = torch.randn(1, 3, 80, 120)
    (a,) = explain(model, x, [0], ExplainConfig("saliency", max_side=40))
    assert a.map.shape == (80, 120)
    assert np.abs(a.map[:40, :60]).sum() > 0.8 * np.abs(a.map).sum()


def test_hooks_are_removed_and_state_restored_after_an_error_inside_a_method():
    class Exploding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = CornerNet()

        def forward(self, x):
            if x.requires_grad or len(x) > 1:  # only Captum's own passes look like this: fail inside Captum
                raise RuntimeError("boom")
            return self.inner(x)

    for method in METHOD_NAMES:
        model = Exploding()
        model.train()
        before = _state(model)
        with pytest.raises(RuntimeError, match="boom"):
            explain(model, torch.randn(1, 3, 32, 32), [0], ExplainConfig(method, window=8, stride=8))
        assert hook_count(model) == 0 and _no_hooks(model), method
        assert _state(model) == before, method


def test_bad_inputs_and_targets_are_refused_with_clear_messages(corner_net):
    with pytest.raises(ExplainError, match=r"\(N, 3, H, W\)"):
        explain(corner_net, torch.randn(3, 32, 32), [0], ExplainConfig("saliency"))
    with pytest.raises(ExplainError, match="2 images but 1 targets"):
        explain(corner_net, torch.randn(2, 3, 32, 32), [0], ExplainConfig("saliency"))
    with pytest.raises(ExplainError, match="target class 5 is out of range; the model has 2 classes"):
        explain(corner_net, torch.randn(1, 3, 32, 32), [5], ExplainConfig("saliency"))
    with pytest.raises(ExplainError, match="baseline must have shape"):
        explain(corner_net, torch.randn(1, 3, 32, 32), [0], ExplainConfig("occlusion"), baseline=torch.zeros(3, 8, 8))
    assert hook_count(corner_net) == 0


def test_a_model_without_gradients_to_the_image_says_so():
    class Quantised(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(torch.round(x.mean(dim=(2, 3))).detach())

    model = Quantised()
    reasons = method_availability(model, torch.randn(1, 3, 16, 16))
    assert reasons["occlusion"] is None
    assert "gradients do not flow" in reasons["saliency"]
    with pytest.raises(MethodUnavailable, match="needs gradients"):
        explain(model, torch.randn(1, 3, 16, 16), [0], ExplainConfig("integrated-gradients"))
    (occ,) = explain(model, torch.randn(1, 3, 16, 16), [0], ExplainConfig("occlusion", window=4, stride=4))
    assert occ.map.shape == (16, 16)


def test_availability_on_a_convnet_offers_everything(corner_net):
    assert method_availability(corner_net, torch.randn(1, 3, 32, 32)) == {name: None for name in METHODS}


def test_predicted_targets_match_argmax(corner_net):
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected = corner_net(x).argmax(1).tolist()
    assert predicted_targets(corner_net, x) == expected
