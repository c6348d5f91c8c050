"""Transfer strategies as small recipes: which block groups train at which epoch, and at which learning rate.

=================== ============================================ ==========================================
strategy            trainable block groups                        learning rates
=================== ============================================ ==========================================
feature-extraction  none (head only), every epoch                 head: head_lr
fine-tune           the last ``fine_tune_groups``                 groups: head_lr * ratio (* decay going down)
full                all                                           groups: head_lr * ratio (* decay going down)
gradual             ``epoch // unfreeze_every`` (capped at all)   groups: head_lr * ratio (* decay going down)
scratch             all, from a random init                       everything: head_lr (nothing is pretrained)
=================== ============================================ ==========================================

Each strategy is one row of :data:`CATALOGUE` (a :class:`Strategy`); :data:`STRATEGIES` and
:data:`STRATEGY_LABELS` are read from it. Torch-free at import: :func:`param_groups` only walks a model it is given.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from tlcore.errors import TlcoreError
from tlcore.models.registry import HEADS

if TYPE_CHECKING:
    from tlcore.models.transfer import TransferModel


class SettingError(TlcoreError, ValueError):
    """A training setting is unknown or out of range; the message names the setting and what it must be."""


@dataclass(frozen=True)
class Limit:
    """The range a numeric setting must be in: finite, between ``low`` and ``high`` (``None``: no bound), each end
    open or closed, a whole number when ``integer``. The configs check their fields with it and the CLI its options,
    so the app, jobs and the command line refuse the same values with the same words."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the value must be above low, not equal to it
    high_open: bool = False  # the value must be below high
    integer: bool = False

    def describe(self) -> str:
        """What the value must be, e.g. ``"in [0, 1)"``, ``"at least 16"``, ``"a whole number in [1, 64]"``."""
        what = "a whole number " if self.integer else ""
        if self.low is not None and self.high is not None:
            return (f"{what}in {'(' if self.low_open else '['}{_show(self.low)}, {_show(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what}{'above' if self.low_open else 'at least'} {_show(self.low)}"
        if self.high is not None:
            return f"{what}{'below' if self.high_open else 'at most'} {_show(self.high)}"
        return "a whole number" if self.integer else "a finite number"

    def problem(self, value: object) -> str | None:
        """``None`` when ``value`` is allowed, else ``"must be <describe()>"`` (NaN, infinities and booleans never are)."""
        kind_ok = isinstance(value, numbers.Integral if self.integer else numbers.Real) and not isinstance(value, bool)
        if not kind_ok or not math.isfinite(float(value)):  # type: ignore[arg-type]
            return f"must be {self.describe()}"
        v = float(value)  # type: ignore[arg-type]
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return f"must be {self.describe()}"
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return f"must be {self.describe()}"
        return None


def _show(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def check_limits(config: object, limits: dict[str, Limit], prefix: str = "") -> None:
    """Raise :class:`SettingError` for the first field of ``config`` named in ``limits`` that is out of its range.

    The message reads ``"Setting 'dropout' is 2.0; it must be in [0, 1)."`` (``prefix`` names a nested config,
    e.g. ``"augment."``).
    """
    for name, limit in limits.items():
        value = getattr(config, name)
        if value is None and name in NULLABLE:
            continue
        problem = limit.problem(value)
        if problem:
            raise SettingError(f"Setting '{prefix}{name}' is {value!r}; it {problem}.")


NULLABLE = frozenset({"image_size"})  # settings where None means "the default" (checked only when given)

# The numeric settings of StrategyConfig and their ranges (the CLI's --fine-tune-groups, --lr, ... read these).
STRATEGY_LIMITS: dict[str, Limit] = {
    "fine_tune_groups": Limit(0, integer=True),
    "unfreeze_every": Limit(1, integer=True),
    "head_lr": Limit(0, 10, low_open=True),
    "backbone_lr_ratio": Limit(0, 1, low_open=True),
    "lr_decay": Limit(0, 1, low_open=True),
    "hidden": Limit(1, 65536, integer=True),
    "dropout": Limit(0, 1, high_open=True),
}


@dataclass(frozen=True)
class StrategyConfig:
    """How to transfer: what trains when, learning rates and the new head."""

    name: str = "feature-extraction"   # feature-extraction | fine-tune | full | gradual | scratch
    fine_tune_groups: int = 2          # fine-tune: last N block groups train
    unfreeze_every: int = 2            # gradual: one more group every K epochs
    head_lr: float = 3e-3
    backbone_lr_ratio: float = 0.1     # pretrained groups learn 10x slower than the head
    lr_decay: float = 1.0              # <1: each group further down learns decay x slower
    head: str = "linear"               # linear | mlp
    hidden: int = 256                  # mlp head: hidden units
    dropout: float = 0.2               # head dropout

    def __post_init__(self) -> None:
        """Raise :class:`SettingError` (a ``ValueError``) naming the first setting that can't work."""
        if self.name not in CATALOGUE:
            raise SettingError(f"Strategy {self.name!r} is unknown; use one of {', '.join(STRATEGIES)}.")
        check_limits(self, STRATEGY_LIMITS)
        if self.head not in HEADS:
            raise SettingError(f"Setting 'head' is {self.head!r}; use one of {', '.join(HEADS)}.")


# How many block groups (counted from the top) train: (settings, groups in the backbone, 0-based epoch) -> count.
Unfreezing = Callable[[StrategyConfig, int, int], int]


@dataclass(frozen=True)
class Strategy:
    """One transfer strategy: its name, a label for tables and charts, and its recipe."""

    name: str
    label: str  # short human name ("full fine-tune")
    trainable_groups: Unfreezing  # which groups train at which epoch
    pretrained: bool = True  # starts from pretrained weights (groups then learn at head_lr * backbone_lr_ratio)


def _head_only(s: StrategyConfig, n_groups: int, epoch: int) -> int:
    return 0


def _last_groups(s: StrategyConfig, n_groups: int, epoch: int) -> int:
    return min(s.fine_tune_groups, n_groups)


def _all_groups(s: StrategyConfig, n_groups: int, epoch: int) -> int:
    return n_groups


def _one_more_every(s: StrategyConfig, n_groups: int, epoch: int) -> int:
    return min(max(epoch, 0) // s.unfreeze_every, n_groups)


CATALOGUE: dict[str, Strategy] = {s.name: s for s in (
    Strategy("feature-extraction", "feature extraction", _head_only),
    Strategy("fine-tune", "fine-tune last groups", _last_groups),
    Strategy("full", "full fine-tune", _all_groups),
    Strategy("gradual", "gradual unfreezing", _one_more_every),
    Strategy("scratch", "from scratch", _all_groups, pretrained=False),
)}
STRATEGIES: tuple[str, ...] = tuple(CATALOGUE)  # the training strategies' names, in the order the UI lists them
STRATEGY_LABELS: dict[str, str] = {s.name: s.label for s in CATALOGUE.values()}


def strategy_of(config: StrategyConfig) -> Strategy:
    """The catalogue row for ``config.name`` (checked when the config was made)."""
    return CATALOGUE[config.name]


def uses_pretrained(strategy: StrategyConfig) -> bool:
    """Whether the backbone starts from pretrained weights (False only for scratch)."""
    return strategy_of(strategy).pretrained


def trainable_group_count(strategy: StrategyConfig, n_groups: int, epoch: int) -> int:
    """How many block groups (counted from the top) train in ``epoch`` (0-based)."""
    return strategy_of(strategy).trainable_groups(strategy, n_groups, epoch)


def group_lrs(strategy: StrategyConfig, n_trainable: int) -> list[float]:
    """Learning rates of the ``n_trainable`` top block groups, stem-most first (the last is the top group)."""
    if not uses_pretrained(strategy):
        return [strategy.head_lr] * n_trainable
    top = strategy.head_lr * strategy.backbone_lr_ratio
    return [top * strategy.lr_decay ** (n_trainable - 1 - i) for i in range(n_trainable)]


def param_groups(model: "TransferModel", strategy: StrategyConfig, n_trainable: int) -> list[dict]:
    """Optimizer parameter groups: one per trainable block group (stem-most first), then ``head``.

    Each is ``{"params": [...], "lr": float, "name": str}``; frozen block groups are left out. Call
    ``model.set_trainable(n_trainable)`` as well so that ``requires_grad`` matches.
    """
    n = max(0, min(int(n_trainable), model.num_groups))
    params = dict(model.backbone.named_parameters())
    trainable = model.groups[model.num_groups - n:]
    out = [{"params": [params[p] for p in group.param_names], "lr": lr, "name": group.name}
           for group, lr in zip(trainable, group_lrs(strategy, n))]
    out.append({"params": list(model.head.parameters()), "lr": strategy.head_lr, "name": "head"})
    return out
