"""Every backbone we offer (random init, small inputs): the Grad-CAM layer is found and every method works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.explain import METHOD_NAMES, ExplainConfig, explain, find_cam_layer, hook_count
from tlcore.models.factory import create_backbone
from tlcore.models.registry import list_backbones
from tlcore.models.transfer import TransferModel

pytestmark = pytest.mark.slow  # builds every backbone we offer

CATALOGUE = [spec.name for spec in list_backbones()]
FAST = dict(steps=4, samples=2, internal_batch_size=8)


def _side(name: str) -> int:
    return 224 if "vit" in name else 64  # ViTs are built for a fixed input size; convnets take any


@pytest.fixture(scope="module", params=CATALOGUE)
def offered(request) -> tuple[str, TransferModel]:
    torch.manual_seed(0)
    return request.param, TransferModel(create_backbone(request.param, pretrained=False), 3)


def test_the_catalogue_is_covered():
    assert "efficientnet_lite0" in CATALOGUE and any("vit" in n for n in CATALOGUE)
    assert any(n.startswith("torchvision/") for n in CATALOGUE)


def test_gradcam_layer_and_every_method_on_every_offered_backbone(offered):
    name, model = offered
    side = _side(name)
    x = torch.randn(1, 3, side, side)
    cam = find_cam_layer(model, x)
    assert cam.name.startswith("backbone.")
    assert cam.kind == ("tokens" if "vit" in name else "feature-map")
    assert min(cam.grid) > 1
    for method in METHOD_NAMES:
        (a,) = explain(model, x, [2], ExplainConfig(method, window=side // 2, stride=side // 2, **FAST))
        assert a.map.shape == (side, side), method
        assert np.isfinite(a.map).all(), method
    assert hook_count(model) == 0
