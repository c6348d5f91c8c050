"""SmoothGrad (Smilkov et al., 2017) via Captum's NoiseTunnel: the average of a gradient method's maps over
``config.samples`` copies of the image with Gaussian noise added (std = ``config.stdev`` x value range).

The averaged method is ``config.smooth_base``: Saliency (default; absolute gradients, so the map is
non-negative) or Integrated Gradients (signed). Maps are summed over colour channels.
"""

from __future__ import annotations

from typing import Sequence

from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch import Tensor, nn

from tlcore.explain.config import ExplainConfig
from tlcore.explain.methods.common import MethodFn, channel_sum, noise_std, seeded


def prepare(model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
    """A function computing SmoothGrad maps over the configured base method."""
    if config.smooth_base == "integrated-gradients":
        tunnel = NoiseTunnel(IntegratedGradients(model))
        samples_per_pass = max(1, config.internal_batch_size // config.steps)

        def extra(baseline: Tensor, inputs: Tensor) -> dict:
            return dict(baselines=baseline.expand_as(inputs), n_steps=config.steps,
                        internal_batch_size=config.internal_batch_size)
    else:
        tunnel = NoiseTunnel(Saliency(model))
        samples_per_pass = config.internal_batch_size

        def extra(baseline: Tensor, inputs: Tensor) -> dict:
            return dict(abs=True)

    def run(inputs: Tensor, targets: Sequence[int], baseline: Tensor) -> tuple[Tensor, None]:
        with seeded(config.seed):
            attr = tunnel.attribute(
                inputs,
                nt_type="smoothgrad",
                nt_samples=config.samples,
                nt_samples_batch_size=min(samples_per_pass, config.samples),
                stdevs=noise_std(inputs, config.stdev),
                target=list(targets),
                **extra(baseline, inputs),
            )
        return channel_sum(attr), None

    return run
