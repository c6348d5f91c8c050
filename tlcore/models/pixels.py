"""The raw-pixel "backbone": no network, the image itself resized to a small square and flattened.

It lets the traditional baseline — logistic regression on raw pixels — be an ordinary run: a
:class:`~tlcore.models.factory.Backbone` named :data:`PIXELS_BACKBONE` whose features are the ``3 * side**2`` pixel
values in [0, 1], under a linear head (the auto recipe folds a fitted logistic regression and its standardisation
into that head). Its preprocessing (:data:`PIXEL_DATA_CONFIG`: resize to ``side``, no crop, no normalisation) goes
through the same :func:`tlcore.data.augment.eval_transform` as every backbone's, so predict, evaluate, explain and
exports see exactly the pixels the model was fitted on. It has no block groups and no pretrained weights.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from tlcore.data.preprocess import DataConfig
from tlcore.models.registry import PIXELS_BACKBONE

__all__ = ["PIXELS_BACKBONE", "PIXEL_SIDE", "PIXEL_DATA_CONFIG", "PixelFeatures", "create_pixels"]
PIXEL_SIDE = 32  # images become 32x32 RGB: 3,072 features
PIXEL_DATA_CONFIG = DataConfig(input_size=PIXEL_SIDE, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                               interpolation="bilinear", crop_pct=1.0)


class PixelFeatures(nn.Module):
    """``(N, 3, H, W)`` pixel values -> ``(N, 3 * side**2)``: resized (bilinear, antialiased) when not ``side`` px
    square already, then flattened channel by channel."""

    def __init__(self, side: int = PIXEL_SIDE) -> None:
        super().__init__()
        self.side = side

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", antialias=True, align_corners=False)
        return x.flatten(1)


def create_pixels() -> tuple[nn.Module, int, DataConfig]:
    """The pixel feature module, its feature count and its preprocessing."""
    return PixelFeatures(PIXEL_SIDE).eval(), 3 * PIXEL_SIDE * PIXEL_SIDE, PIXEL_DATA_CONFIG
