"""Learning-rate schedules as pure functions of training progress in [0, 1]."""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "onecycle", "constant")
_WARMUP = 0.3  # one-cycle: fraction of training spent warming up
_START = 1 / 25  # one-cycle: starting fraction of the peak rate (fastai's div=25)


def lr_factor(schedule: str, progress: float) -> float:
    """The multiplier on each group's base learning rate at ``progress`` (0 = first step, 1 = end).

    Args:
        schedule: ``"cosine"`` (decay from 1 to 0), ``"onecycle"`` (linear warm-up to 1, then cosine to 0) or
            ``"constant"``.
        progress: fraction of the training steps done.
    """
    p = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if schedule == "onecycle":
        if p < _WARMUP:
            return _START + (1.0 - _START) * p / _WARMUP
        q = (p - _WARMUP) / (1.0 - _WARMUP)
        return 0.5 * (1.0 + math.cos(math.pi * q))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
