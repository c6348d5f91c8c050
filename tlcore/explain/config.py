"""The settings of one attribution request and the result for one image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from tlcore.explain.errors import ExplainError

METHOD_NAMES = ("saliency", "integrated-gradients", "gradient-shap", "occlusion", "gradcam", "smoothgrad")
SMOOTH_BASES = ("saliency", "integrated-gradients")

MAX_STEPS = 256  # Integrated Gradients path steps
MAX_SAMPLES = 64  # SmoothGrad / GradientShap noisy samples per image
MAX_BATCH = 128
MIN_SIDE, MAX_SIDE = 32, 1024


@dataclass(frozen=True)
class ExplainConfig:
    """How to compute attribution maps. Limits keep a single image's cost bounded."""

    method: str  # one of METHOD_NAMES
    steps: int = 32  # Integrated Gradients: points on the path from baseline to image (Gauss-Legendre)
    samples: int = 10  # SmoothGrad / GradientShap: noisy copies per image
    stdev: float = 0.15  # noise std as a fraction of the inputs' value range (Smilkov et al. use 0.1-0.2)
    window: int = 32  # Occlusion: square window side in px (clipped to the image)
    stride: int = 16  # Occlusion: step between windows in px
    internal_batch_size: int = 16  # at most this many model evaluations per forward/backward pass
    max_side: int = 448  # larger inputs are attributed downscaled; maps are upsampled back
    smooth_base: str = "saliency"  # SmoothGrad averages this method over noisy copies: saliency | integrated-gradients
    layer: Optional[str] = None  # Grad-CAM: module name inside the model; None = found automatically
    seed: int = 0  # noise for SmoothGrad / GradientShap

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ExplainError(f"ExplainConfig.method: unknown method {self.method!r}; choose one of {METHOD_NAMES}")
        _check_range("steps", self.steps, 1, MAX_STEPS)
        _check_range("samples", self.samples, 1, MAX_SAMPLES)
        _check_range("window", self.window, 1, MAX_SIDE)
        _check_range("stride", self.stride, 1, MAX_SIDE)
        _check_range("internal_batch_size", self.internal_batch_size, 1, MAX_BATCH)
        _check_range("max_side", self.max_side, MIN_SIDE, MAX_SIDE)
        if not 0.0 < self.stdev <= 1.0:
            raise ExplainError(
                f"ExplainConfig.stdev must be in (0, 1] (a fraction of the value range), got {self.stdev}"
            )
        if self.smooth_base not in SMOOTH_BASES:
            raise ExplainError(f"ExplainConfig.smooth_base must be one of {SMOOTH_BASES}, got {self.smooth_base!r}")


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ExplainError(f"ExplainConfig.{name} must be a whole number from {lo} to {hi}, got {value!r}")


@dataclass(frozen=True)
class Attribution:
    """One image's attribution map for one target class."""

    map: np.ndarray  # (H, W) float32 at the input's size; sign and scale depend on the method
    method: str
    target: int
    delta: Optional[float] = None  # Integrated Gradients: convergence delta, sum of attributions - (f(x) - f(baseline))
    seconds: float = 0.0  # compute time for this image
