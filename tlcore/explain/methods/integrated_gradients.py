"""Integrated Gradients (Sundararajan et al., 2017): gradients averaged along the straight path from a
baseline image to the input, times (input - baseline).

Map reduction: signed per-channel attributions summed over colour channels. The convergence delta
(sum of attributions minus the change of the target logit between baseline and input) comes back per
image; a large |delta| means more ``steps`` are needed.
"""

from __future__ import annotations

from typing import Sequence

from captum.attr import IntegratedGradients
from torch import Tensor, nn

from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn, channel_sum


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing Integrated Gradients maps and convergence deltas."""
    method = IntegratedGradients(model)

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, Tensor]:
        attr, delta = method.attribute(
            inputs,
            baselines=baseline.expand_as(inputs),
            target=list(targets),
            n_steps=config.steps,
            method="gausslegendre",
            internal_batch_size=config.internal_batch_size,
            return_convergence_delta=True,
        )
        return channel_sum(attr), delta

    return run
