"""Small tensor helpers shared by the attribution methods."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

# A prepared method: (inputs (n,3,H,W), targets, baseline (1,3,H,W)) -> (maps (n,H,W), deltas (n,) or None)
MethodFn = Callable[[Tensor, Sequence[int], Tensor], tuple[Tensor, Optional[Tensor]]]


def channel_sum(attr: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, H, W): one map per image as the sum over colour channels (Captum's own convention)."""
    return attr.sum(dim=1)


def noise_std(inputs: Tensor, fraction: float) -> float:
    """Noise standard deviation as ``fraction`` of the inputs' value range (max - min)."""
    span = float(inputs.detach().max() - inputs.detach().min())
    return fraction * (span if span > 0 else 1.0)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run with torch's CPU and numpy's global random generators seeded (Captum draws from both), then put
    the caller's random state back."""
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed)
            yield
    finally:
        np.random.set_state(numpy_state)
