"""Turning an attribution map into pictures: normalise, colour, blend on the image. Plain uint8 arrays out,
so pages and the HTML report render them the same way. Imports no torch until a map needs resizing (the CLI's
argument parser reads :data:`SIGNS` from here).
"""

from __future__ import annotations

import numpy as np

SIGNS = ("positive", "absolute", "negative")

# Colour scales as anchor colours (0..1 RGB) spaced evenly from low to high.
CMAPS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "jet": ((0.0, 0.0, 0.5), (0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.5, 0.0, 0.0)),
    "inferno": ((0.0, 0.0, 0.015), (0.34, 0.06, 0.43), (0.73, 0.21, 0.33), (0.98, 0.55, 0.04), (0.99, 1.0, 0.64)),
    "viridis": ((0.27, 0.0, 0.33), (0.23, 0.32, 0.55), (0.13, 0.57, 0.55), (0.37, 0.79, 0.38), (0.99, 0.91, 0.14)),
    "gray": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


def resize_map(amap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D map to ``size`` = (H, W)."""
    import torch
    import torch.nn.functional as F

    amap = np.asarray(amap, dtype=np.float32)
    if amap.shape == tuple(size):
        return amap
    t = torch.from_numpy(np.ascontiguousarray(amap))[None, None]
    return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)[0, 0].numpy()


def normalize_map(amap: np.ndarray, sign: str = "positive", percentile: float = 99.0) -> np.ndarray:
    """Map values to [0, 1]: keep the chosen sign, then divide by the ``percentile`` of what is left.

    ``positive`` keeps evidence for the target, ``negative`` evidence against it (as positive values),
    ``absolute`` both. A map with nothing left (all zero) stays zero. Non-finite values count as zero.
    """
    if sign not in SIGNS:
        raise ValueError(f"overlay sign must be one of {SIGNS}, got {sign!r}")
    a = np.nan_to_num(np.asarray(amap, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    a = {"positive": np.maximum(a, 0), "negative": np.maximum(-a, 0), "absolute": np.abs(a)}[sign]
    nonzero = a[a > 0]
    if nonzero.size == 0:
        return np.zeros_like(a)
    top = float(np.percentile(nonzero, percentile)) or float(nonzero.max())
    return np.clip(a / top, 0.0, 1.0)


def colorize(values: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 colours on the named scale."""
    if cmap not in CMAPS:
        raise ValueError(f"overlay cmap must be one of {tuple(CMAPS)}, got {cmap!r}")
    anchors = np.asarray(CMAPS[cmap], dtype=np.float32)
    stops = np.linspace(0.0, 1.0, len(anchors))
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    rgb = np.stack([np.interp(v, stops, anchors[:, c]) for c in range(3)], axis=-1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def overlay(
    image_rgb: np.ndarray,
    amap: np.ndarray,
    sign: str = "positive",
    opacity: float = 0.5,
    cmap: str = "jet",
) -> np.ndarray:
    """The map blended on the image: ``(1 - opacity) * image + opacity * colours``, as (H, W, 3) uint8.

    The map is resized to the image if their sizes differ.
    """
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"overlay needs an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"overlay opacity must be between 0 and 1, got {opacity}")
    colours = colorize(normalize_map(resize_map(amap, image.shape[:2]), sign), cmap).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def colorbar(cmap: str = "jet", length: int = 256, thickness: int = 12) -> np.ndarray:
    """A horizontal colour scale, low on the left, as (thickness, length, 3) uint8."""
    row = colorize(np.linspace(0.0, 1.0, length)[None, :], cmap)
    return np.repeat(row, thickness, axis=0)
