"""Saliency (Simonyan et al., 2014): the absolute gradient of the target logit with respect to each pixel.

Map reduction: ``|d logit / d pixel|`` summed over the three colour channels (non-negative).
"""

from __future__ import annotations

from typing import Sequence

from captum.attr import Saliency
from torch import Tensor, nn

from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn, channel_sum


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing Saliency maps for a batch of images."""
    method = Saliency(model)

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, None]:
        attr = method.attribute(inputs, target=list(targets), abs=True)
        return channel_sum(attr), None

    return run
