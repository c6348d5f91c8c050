"""The torchvision adapter: ``torchvision/<model>`` classification models with their ``DEFAULT`` weights.

The classifier is replaced by ``nn.Identity`` so the model gives pooled features; preprocessing comes from the
weights' transform preset.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torchvision import models as tv_models

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models.efficientnet_lite import OFFLINE_HINT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def create_torchvision(name: str, arch: str, pretrained: bool) -> tuple[nn.Module, int, str, str, DataConfig]:
    """The model without classifier: (model, num_features, removed head's module path, weights source, preprocessing).

    Raises:
        WeightsUnavailable: ``pretrained`` and the weights cannot be downloaded or read.
    """
    weights = tv_models.get_model_weights(arch).DEFAULT
    if pretrained:
        try:
            model = tv_models.get_model(arch, weights=weights, progress=False)
        except (OSError, RuntimeError) as e:
            raise WeightsUnavailable(
                f"Backbone '{name}': torchvision weights {weights} could not be downloaded or read "
                f"({type(e).__name__}: {e}); {OFFLINE_HINT}."
            ) from e
        source = f"torchvision {weights}"
    else:
        model = tv_models.get_model(arch, weights=None)
        source = "random init"
    model, num_features, head_prefix = strip_torchvision_head(model)
    return model, num_features, head_prefix, source, torchvision_data_config(arch)


def torchvision_data_config(arch: str) -> DataConfig:
    """Preprocessing from the DEFAULT weights' transform preset (ImageNet mean/std, resize 256 -> crop 224)."""
    weights = tv_models.get_model_weights(arch).DEFAULT
    kw = getattr(weights.transforms, "keywords", {})
    crop = int(kw.get("crop_size", 224))
    resize = int(kw.get("resize_size", 256))
    interpolation = getattr(kw.get("interpolation"), "value", "bilinear")
    if interpolation not in ("bicubic", "bilinear"):
        interpolation = "bilinear"
    return DataConfig(input_size=crop, mean=tuple(kw.get("mean", IMAGENET_MEAN)),
                      std=tuple(kw.get("std", IMAGENET_STD)), interpolation=interpolation, crop_pct=crop / resize)


def strip_torchvision_head(model: nn.Module) -> tuple[nn.Module, int, str]:
    """Replace the classifier with Identity; return (model, num_features, removed head's module path).

    Raises:
        WeightsUnavailable: the model has no linear classifier to replace.
    """
    if isinstance(getattr(model, "fc", None), nn.Linear):
        num_features = model.fc.in_features
        model.fc = nn.Identity()
        return model, num_features, "fc"
    if isinstance(model, (tv_models.MobileNetV2, tv_models.MobileNetV3, tv_models.EfficientNet)):
        first_linear = next((m for m in model.classifier.modules() if isinstance(m, nn.Linear)), None)
        if first_linear is None:
            raise WeightsUnavailable(f"torchvision model {type(model).__name__} has no linear classifier to replace.")
        model.classifier = nn.Identity()
        return model, first_linear.in_features, "classifier"
    last_name, last = None, None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = module_name, module
    if last is None:
        raise WeightsUnavailable(f"torchvision model {type(model).__name__} has no linear classifier to replace.")
    parent_name, _, child = last_name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, nn.Identity())
    return model, last.in_features, last_name


@functools.lru_cache(maxsize=None)
def torchvision_num_params(arch: str) -> int:
    """Parameter count without classifier, from a weightless build on the meta device."""
    with torch.device("meta"):
        model, _, _ = strip_torchvision_head(tv_models.get_model(arch, weights=None))
    return sum(p.numel() for p in model.parameters())
