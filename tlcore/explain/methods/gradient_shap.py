"""GradientShap (Lundberg & Lee, 2017, as in Captum): expected gradients between noisy copies of the
input and random points on the way to the baseline, times (input - baseline).

Map reduction: signed per-channel attributions summed over colour channels. The baseline distribution
is the single reference image (default: all zeros in normalised space, i.e. the dataset's mean colour).
"""

from __future__ import annotations

from typing import Sequence

from captum.attr import GradientShap
from torch import Tensor, nn

from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn, channel_sum, noise_std, seeded


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing GradientShap maps (``config.samples`` noisy samples per image, seeded)."""
    method = GradientShap(model)

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, None]:
        with seeded(config.seed):
            attr = method.attribute(
                inputs,
                baselines=baseline,
                n_samples=config.samples,
                stdevs=noise_std(inputs, config.stdev),
                target=list(targets),
            )
        return channel_sum(attr), None

    return run
