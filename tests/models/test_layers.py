"""GlobalAvgPool2d: the same numbers as nn.AdaptiveAvgPool2d(1), with the gradient in the input's layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision import models as tv_models

from tlcore.models.layers import GlobalAvgPool2d, use_layout_preserving_pools


def _pool_input_gradient(pool: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The gradient reaching the pool's input when it follows a BatchNorm, as at the end of a backbone."""
    torch.manual_seed(0)
    h = nn.BatchNorm2d(x.shape[1]).train()(x)
    seen: list[torch.Tensor] = []
    h.register_hook(seen.append)
    (pool(h).flatten(1) @ weights).sum().backward()
    return seen[0]


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_pool_matches_adaptive_avg_pool_and_keeps_the_gradient_layout(layout: torch.memory_format) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 6, 5, 7).contiguous(memory_format=layout)
    weights = torch.randn(6, 3)
    out, ref = GlobalAvgPool2d()(x), nn.AdaptiveAvgPool2d(1)(x)
    assert out.shape == ref.shape == (4, 6, 1, 1)
    torch.testing.assert_close(out, ref)
    ours = _pool_input_gradient(GlobalAvgPool2d(), x, weights)
    theirs = _pool_input_gradient(nn.AdaptiveAvgPool2d(1), x, weights)
    torch.testing.assert_close(ours, theirs)
    assert ours.is_contiguous(memory_format=layout)
    if layout == torch.channels_last:  # what the replacement is for: PyTorch's own gradient comes back NCHW here
        assert not theirs.is_contiguous(memory_format=torch.channels_last)


def test_replacing_the_pools_of_a_model_changes_neither_its_weights_nor_its_output() -> None:
    torch.manual_seed(0)
    model = tv_models.resnet18(num_classes=3).eval()
    keys = list(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        before = model(x)
    assert use_layout_preserving_pools(model) == 1
    assert isinstance(model.avgpool, GlobalAvgPool2d)
    assert list(model.state_dict()) == keys
    with torch.inference_mode():
        torch.testing.assert_close(model(x), before)
    assert use_layout_preserving_pools(model) == 0  # nothing left to replace
    assert use_layout_preserving_pools(nn.Sequential(nn.AdaptiveAvgPool2d(2))) == 0  # not a global pool


def test_created_backbones_use_the_layout_preserving_pool(tiny_effnet) -> None:
    from tlcore.models.factory import create_backbone

    for backbone in (create_backbone("timm/test_efficientnet", pretrained=False), tiny_effnet):
        modules = list(backbone.model.modules())
        assert any(isinstance(m, GlobalAvgPool2d) for m in modules)
        assert not any(type(m) is nn.AdaptiveAvgPool2d for m in modules)
