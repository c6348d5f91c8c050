"""The Grad-CAM layer finder on convnets, vision transformers, wrappers and models it cannot serve."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from torch import nn

from tests.explain.conftest import CornerNet, tiny_transfer_model
from tlcore.explain import ExplainConfig, MethodUnavailable, explain, find_cam_layer, hook_count
from tlcore.explain.cam_layers import cam_layer_by_name


@pytest.mark.parametrize(
    "name, layer, kind, grid, prefix",
    [
        ("test_efficientnet", "bn2", "feature-map", (5, 5), 0),
        ("test_resnet", "layer4", "feature-map", (5, 5), 0),
        ("test_vit", "blocks.5.norm1", "tokens", (10, 10), 1),
    ],
)
def test_plain_timm_models(name, layer, kind, grid, prefix):
    model = timm.create_model(name, pretrained=False, num_classes=3)
    cam = find_cam_layer(model, torch.randn(1, 3, 160, 160))
    assert (cam.name, cam.kind, cam.grid, cam.prefix_tokens) == (layer, kind, grid, prefix)
    assert hook_count(model) == 0


@pytest.mark.parametrize(
    "backbone, layer", [("timm/test_efficientnet", "backbone.bn2"), ("timm/test_vit", "backbone.blocks.5.norm1")]
)
def test_transfer_model_wrapper_searches_inside_the_backbone(backbone, layer):
    model = tiny_transfer_model(backbone)
    assert find_cam_layer(model, torch.randn(1, 3, 160, 160)).name == layer


def test_global_average_pooled_vit_uses_the_last_block():
    model = timm.create_model("test_vit", pretrained=False, num_classes=3, global_pool="avg", fc_norm=False)
    cam = find_cam_layer(model, torch.randn(1, 3, 160, 160))
    assert cam.kind == "tokens" and cam.name in ("norm", "blocks.5")


def test_vit_gradcam_on_a_non_square_input_uses_the_patch_grid():
    model = timm.create_model("test_vit", pretrained=False, num_classes=2, dynamic_img_size=True)
    cam = find_cam_layer(model, torch.randn(1, 3, 96, 160))
    assert cam.kind == "tokens" and cam.grid == (6, 10)
    (a,) = explain(model, torch.randn(1, 3, 96, 160), [1], ExplainConfig("gradcam"))
    assert a.map.shape == (96, 160) and np.isfinite(a.map).all()


def test_model_without_feature_maps_or_tokens_is_refused_in_plain_words():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(MethodUnavailable, match="Grad-CAM is not available for Sequential"):
        find_cam_layer(model, torch.randn(1, 3, 8, 8))
    with pytest.raises(MethodUnavailable, match="spatial feature map"):
        explain(model, torch.randn(1, 3, 8, 8), [0], ExplainConfig("gradcam"))
    assert hook_count(model) == 0


def test_layer_by_name():
    model = CornerNet()
    cam = cam_layer_by_name(model, "features.0", torch.randn(1, 3, 16, 16))
    assert (cam.kind, cam.grid, cam.channels) == ("feature-map", (16, 16), 8)
    with pytest.raises(MethodUnavailable, match="no module named 'nope'"):
        cam_layer_by_name(model, "nope", torch.randn(1, 3, 16, 16))
    with pytest.raises(MethodUnavailable, match="not a \\(N, C, h, w\\) map"):
        cam_layer_by_name(model, "head", torch.randn(1, 3, 16, 16))
    (a,) = explain(model, torch.randn(1, 3, 16, 16), [0], ExplainConfig("gradcam", layer="features.0"))
    assert a.map.shape == (16, 16) and hook_count(model) == 0
