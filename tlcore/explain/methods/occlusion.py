"""Occlusion (Zeiler & Fergus, 2014): slide a baseline-coloured window over the image and record how much
the target logit drops; each pixel gets the average drop of the windows covering it.

Map reduction: the window covers all three channels at once, so every channel holds the same value; the
map is that value (positive = hiding the pixel lowers the target's logit).
"""

from __future__ import annotations

from typing import Sequence

from captum.attr import Occlusion
from torch import Tensor, nn

from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing Occlusion maps with the configured window and stride (clipped to the image)."""
    method = Occlusion(model)

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, None]:
        height, width = inputs.shape[-2:]
        win_h, win_w = min(config.window, height), min(config.window, width)
        stride_h, stride_w = min(config.stride, win_h), min(config.stride, win_w)
        attr = method.attribute(
            inputs,
            sliding_window_shapes=(inputs.shape[1], win_h, win_w),
            strides=(inputs.shape[1], stride_h, stride_w),
            baselines=baseline,
            target=list(targets),
            perturbations_per_eval=config.internal_batch_size,
        )
        return attr[:, 0], None

    return run
