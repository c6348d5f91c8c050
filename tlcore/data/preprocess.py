"""How a backbone wants its input: size, normalisation, interpolation and crop (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing a backbone expects (applied by :mod:`tlcore.data.augment`)."""

    input_size: int                      # square side in px
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str                   # "bicubic" | "bilinear"
    crop_pct: float                      # centre crop = input_size, resize = input_size / crop_pct
