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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from tlcore.models.registry import HEADS

if TYPE_CHECKING:
    from tlcore.models.transfer import TransferModel


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
        if self.name not in CATALOGUE:
            raise ValueError(f"Strategy {self.name!r} is unknown; use one of {', '.join(STRATEGIES)}.")
        if self.fine_tune_groups < 0:
            raise ValueError(f"Setting 'fine_tune_groups' is {self.fine_tune_groups}; it must be 0 or more.")
        if self.unfreeze_every < 1:
            raise ValueError(f"Setting 'unfreeze_every' is {self.unfreeze_every}; it must be 1 or more epochs.")
        if not self.head_lr > 0:
            raise ValueError(f"Setting 'head_lr' is {self.head_lr}; it must be positive.")
        if not 0 < self.backbone_lr_ratio <= 1:
            raise ValueError(f"Setting 'backbone_lr_ratio' is {self.backbone_lr_ratio}; it must be in (0, 1].")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"Setting 'lr_decay' is {self.lr_decay}; it must be in (0, 1].")
        if self.head not in HEADS:
            raise ValueError(f"Setting 'head' is {self.head!r}; use one of {', '.join(HEADS)}.")
        if self.hidden < 1:
            raise ValueError(f"Setting 'hidden' is {self.hidden}; it must be 1 or more.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"Setting 'dropout' is {self.dropout}; it must be in [0, 1).")


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
