"""Grad-CAM (Selvaraju et al., 2017) with Captum's ``LayerGradCam``: the backbone's last feature map,
weighted per channel by the spatially averaged gradient of the target logit, summed over channels, then
upsampled bilinearly to the image size (``LayerAttribution.interpolate``).

The map is signed (no ReLU here); the overlay's "positive" sign gives classic Grad-CAM. For vision
transformers the chosen token layer is reshaped to its patch grid on the fly (see :mod:`tlcore.explain.cam_layers`): a
temporary forward hook routes the patch tokens through an identity module shaped ``(N, C, h, w)``
that Captum hooks instead; the hook is removed after every call.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import Tensor, nn

from tlcore.explain.cam_layers import CamLayer, cam_layer_by_name, find_cam_layer
from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn

log = logging.getLogger(__name__)


class TokenGrid(nn.Module):
    """Identity on a ``(N, C, h, w)`` grid of patch tokens: the module Captum's Grad-CAM attaches to."""

    def forward(self, grid: Tensor) -> Tensor:
        return grid


@contextmanager
def token_grid(module: nn.Module, layer: CamLayer) -> Iterator[TokenGrid]:
    """While open, ``module``'s token output passes through the returned :class:`TokenGrid` as a grid."""
    grid = TokenGrid()
    p = layer.prefix_tokens
    h, w = layer.grid

    def hook(mod: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        n, _, c = output.shape
        patches = grid(output[:, p:].transpose(1, 2).reshape(n, c, h, w))
        return torch.cat([output[:, :p], patches.flatten(2).transpose(1, 2)], dim=1)

    handle = module.register_forward_hook(hook)
    try:
        yield grid
    finally:
        handle.remove()


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing Grad-CAM maps; the layer is found once here (or taken from ``config.layer``)."""
    layer = cam_layer_by_name(model, config.layer, example) if config.layer else find_cam_layer(model, example)
    log.debug("Grad-CAM layer: %s", layer)
    module = dict(model.named_modules())[layer.name]

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, None]:
        if layer.kind == "tokens":
            with token_grid(module, layer) as grid:
                cam = LayerGradCam(model, grid).attribute(inputs, target=list(targets))
        else:
            cam = LayerGradCam(model, module).attribute(inputs, target=list(targets))
        up = LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
        return up[:, 0], None

    return run
