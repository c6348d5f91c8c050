"""What an evaluation can run: the training strategies plus the raw-pixel baseline, with their labels.

The training strategies' names and labels are declared in :mod:`tlcore.train.strategies`; evaluation adds only the
pixel baseline (:mod:`tlcore.evaluate.baseline`) and says which strategies transfer pretrained weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from tlcore.errors import TlcoreError
from tlcore.train.strategies import CATALOGUE, STRATEGIES
from tlcore.train.strategies import STRATEGY_LABELS as TRAINING_LABELS

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

PIXELS = "pixels"  # the traditional baseline: logistic regression on raw pixels (tlcore.evaluate.baseline)
PIXELS_LABEL = "raw pixels + logistic regression"
STRATEGY_LABELS = {**TRAINING_LABELS, PIXELS: PIXELS_LABEL}  # every choice's short human name
CHOICES = (*STRATEGIES, PIXELS)
TRANSFER = frozenset(name for name, s in CATALOGUE.items() if s.pretrained)  # strategies that transfer weights


def strategy_label(config: "TrainConfig") -> str:
    """A short human name for the strategy of ``config`` ("fine-tune last 2 groups", "from scratch", ...)."""
    name = config.strategy.name
    if name == "fine-tune":
        return f"fine-tune last {config.strategy.fine_tune_groups} groups"
    return STRATEGY_LABELS.get(name, name)


def check_strategies(names: Sequence[str]) -> list[str]:
    """The strategy names, validated and without repeats (order kept)."""
    out = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not out:
        raise TlcoreError(f"choose at least one strategy from: {', '.join(CHOICES)}")
    unknown = [n for n in out if n not in CHOICES]
    if unknown:
        raise TlcoreError(f"unknown strategy {unknown[0]!r}; choose from: {', '.join(CHOICES)}")
    return out
