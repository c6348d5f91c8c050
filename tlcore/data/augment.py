"""Preprocessing and augmentation transforms built from a backbone's data config.

Evaluation: resize the shorter side to ``input_size / crop_pct`` and centre-crop (timm's convention).
Training adds the augmentations the user switched on: rotation, scale/crop, horizontal/vertical flip and
colour jitter. Every transform maps a PIL RGB image to a normalised float tensor (3, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

    from tlcore.data.preprocess import DataConfig

Transform = Callable[[Image.Image], "torch.Tensor"]


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentations; each one can be switched off on its own."""

    hflip: bool = True  # random horizontal flip
    vflip: bool = False  # random vertical flip (off by default: few photos are upside down)
    rotation: float = 15.0  # max degrees either way; 0 = off
    scale_min: float = 0.8  # random-resized-crop keeps at least this fraction of the area; 1 = off
    color: float = 0.2  # brightness/contrast/saturation jitter strength; 0 = off

    @property
    def enabled(self) -> bool:
        """True if any augmentation is switched on."""
        return self.hflip or self.vflip or self.rotation > 0 or self.scale_min < 1.0 or self.color > 0

    def describe(self) -> str:
        """A short human description, e.g. ``"h-flip, rotation ±15°, scale ≥0.8, colour 0.2"``."""
        parts = []
        if self.hflip:
            parts.append("h-flip")
        if self.vflip:
            parts.append("v-flip")
        if self.rotation > 0:
            parts.append(f"rotation ±{self.rotation:g}°")
        if self.scale_min < 1.0:
            parts.append(f"scale ≥{self.scale_min:g}")
        if self.color > 0:
            parts.append(f"colour {self.color:g}")
        return ", ".join(parts) if parts else "none"


NO_AUGMENT = AugmentConfig(hflip=False, vflip=False, rotation=0.0, scale_min=1.0, color=0.0)


def _interpolation(name: str):
    from torchvision.transforms import InterpolationMode

    return {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR,
            "nearest": InterpolationMode.NEAREST}.get(name, InterpolationMode.BILINEAR)


def _geometry(data_config: DataConfig, augment: AugmentConfig, size: int | None) -> list:
    """PIL → PIL steps: resize, optional rotation, crop, flips, colour."""
    from torchvision.transforms import v2

    size = size or data_config.input_size
    interp = _interpolation(data_config.interpolation)
    resize_to = int(math.floor(size / data_config.crop_pct))
    steps: list = [v2.Resize(resize_to, interpolation=interp, antialias=True)]
    if augment.rotation > 0:
        steps.append(v2.RandomRotation(augment.rotation, interpolation=interp, fill=255))
    if augment.scale_min < 1.0:
        steps.append(v2.RandomResizedCrop(size, scale=(augment.scale_min, 1.0), interpolation=interp, antialias=True))
    else:
        steps.append(v2.CenterCrop(size))
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if augment.vflip:
        steps.append(v2.RandomVerticalFlip())
    if augment.color > 0:
        c = augment.color
        steps.append(v2.ColorJitter(brightness=c, contrast=c, saturation=c, hue=min(c / 4, 0.05)))
    return steps


def _to_tensor(data_config: DataConfig) -> list:
    import torch
    from torchvision.transforms import v2

    return [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(data_config.mean, data_config.std)]


def eval_transform(data_config: DataConfig, size: int | None = None) -> Transform:
    """Deterministic preprocessing for features, validation, test and prediction."""
    from torchvision.transforms import v2

    return v2.Compose(_geometry(data_config, NO_AUGMENT, size) + _to_tensor(data_config))


def mirror_transform(data_config: DataConfig, size: int | None = None) -> Transform:
    """The evaluation preprocessing of the image's mirror image (horizontal flip): the second view of
    test-time augmentation."""
    from torchvision.transforms import v2

    return v2.Compose(_geometry(data_config, NO_AUGMENT, size) + [v2.RandomHorizontalFlip(p=1.0)]
                      + _to_tensor(data_config))


def train_transform(data_config: DataConfig, augment: AugmentConfig, size: int | None = None) -> Transform:
    """Random augmentations (those switched on) followed by the evaluation preprocessing's normalisation."""
    from torchvision.transforms import v2

    return v2.Compose(_geometry(data_config, augment, size) + _to_tensor(data_config))


def display_transform(data_config: DataConfig, augment: AugmentConfig = NO_AUGMENT,
                      size: int | None = None) -> Callable[[Image.Image], Image.Image]:
    """The geometric/colour part only, PIL in and PIL out: what the model sees, for showing to people."""
    from torchvision.transforms import v2

    return v2.Compose(_geometry(data_config, augment, size))


def preview_augmentations(image: Image.Image, data_config: DataConfig, augment: AugmentConfig, n: int = 8,
                          seed: int = 0) -> list[Image.Image]:
    """``n`` random augmented views of ``image`` (seeded), as the training loop would draw them."""
    import torch

    shown = display_transform(data_config, augment)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return [shown(image.convert("RGB")) for _ in range(n)]
    finally:
        torch.random.set_rng_state(generator_state)


def denormalize(tensor: "torch.Tensor", data_config: DataConfig) -> np.ndarray:
    """A normalised (3, H, W) tensor back to a uint8 (H, W, 3) array for display."""
    mean = np.asarray(data_config.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(data_config.std, dtype=np.float32)[:, None, None]
    arr = tensor.detach().cpu().float().numpy() * std + mean
    return (np.clip(arr, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
