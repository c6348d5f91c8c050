"""What a training run depends on besides the data: :class:`TrainConfig`, its dict form and its checks.

Torch-free at import, so the CLI's argument parsing, run records and the app's forms load without torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from tlcore.data.augment import AugmentConfig
from tlcore.errors import TlcoreError
from tlcore.models.registry import DEFAULT_BACKBONE, random_init_only
from tlcore.train.caches import DEFAULT_MEMORY_LIMIT
from tlcore.train.schedules import SCHEDULES
from tlcore.train.strategies import (
    STRATEGY_LIMITS,
    Limit,
    SettingError,
    StrategyConfig,
    check_limits,
    uses_pretrained,
)

MONITORS = ("val_loss", "val_accuracy", "val_balanced_accuracy")
MIN_IMAGE_SIZE = 16  # px: below this no backbone's downsampling leaves anything to look at
MAX_IMAGE_SIZE = 4096  # px: above this one image's activations no longer fit in memory

# The numeric settings of TrainConfig and their ranges (the CLI's --epochs, --batch-size, ... read these).
TRAIN_LIMITS: dict[str, Limit] = {
    "epochs": Limit(1, 100_000, integer=True),
    "batch_size": Limit(2, 65_536, integer=True),
    "weight_decay": Limit(0, 10),
    "label_smoothing": Limit(0, 1, high_open=True),
    "patience": Limit(0, integer=True),
    "aug_views": Limit(1, 64, integer=True),
    "memory_limit": Limit(0, integer=True),
    "val_fraction": Limit(0, 1, high_open=True),
    "test_fraction": Limit(0, 1, high_open=True),
    "seed": Limit(0, 2**32 - 1, integer=True),
    "image_size": Limit(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, integer=True),  # None (the backbone's own) is fine too
}
# The numeric settings of AugmentConfig (checked as ``augment.<name>``; the CLI's --rotation, ... read these).
AUGMENT_LIMITS: dict[str, Limit] = {
    "rotation": Limit(0, 180),
    "scale_min": Limit(0, 1, low_open=True),
    "color": Limit(0, 1),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on besides the data."""

    backbone: str = DEFAULT_BACKBONE
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    epochs: int = 10
    batch_size: int = 32
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    class_weighted: bool = False  # weight the loss by inverse class frequency (for imbalanced data)
    schedule: str = "cosine"  # cosine | onecycle | constant
    patience: int = 3  # early stopping: epochs without improvement before stopping; 0 = off
    monitor: str = "val_loss"  # val_loss | val_accuracy | val_balanced_accuracy
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    aug_views: int = 4  # augmented views per image in the bank when the frozen part is cached
    cache: bool = True  # reuse the frozen part's outputs (off only to measure what caching saves)
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # cached activations above this many bytes are memory-mapped
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    weights_file: str | None = None  # local pretrained weights instead of the backbone's default source
    image_size: int | None = None  # None = the backbone's own input size

    def check(self) -> None:
        """Raise :class:`~tlcore.train.strategies.SettingError` (a :class:`TlcoreError`) naming the first setting
        that can't work: out of its range in :data:`TRAIN_LIMITS`, :data:`AUGMENT_LIMITS` or the strategy's own, NaN
        or infinite, an unknown schedule or monitor, or validation and test fractions that leave nothing to train."""
        if not isinstance(self.strategy, StrategyConfig) or not isinstance(self.augment, AugmentConfig):
            raise SettingError("Settings 'strategy' and 'augment' must be a StrategyConfig and an AugmentConfig.")
        check_limits(self, TRAIN_LIMITS)
        check_limits(self.augment, AUGMENT_LIMITS, prefix="augment.")
        check_limits(self.strategy, STRATEGY_LIMITS, prefix="strategy.")
        if self.schedule not in SCHEDULES:
            raise SettingError(f"Setting 'schedule' is {self.schedule!r}; use one of {', '.join(SCHEDULES)}.")
        if self.monitor not in MONITORS:
            raise SettingError(f"Setting 'monitor' is {self.monitor!r}; use one of {', '.join(MONITORS)}.")
        if self.val_fraction + self.test_fraction >= 1:
            raise SettingError(f"Settings 'val_fraction' + 'test_fraction' are {self.val_fraction} + "
                               f"{self.test_fraction}; together they must stay below 1 to leave images to train on.")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return asdict(config)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Inverse of :func:`config_to_dict`; unknown keys are refused by name."""
    return _from_dict(TrainConfig, data)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise TlcoreError(f"unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}")
    nested = {"strategy": StrategyConfig, "augment": AugmentConfig}
    values = {k: _from_dict(nested[k], v) if k in nested and isinstance(v, dict) else v for k, v in data.items()}
    return cls(**values)


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``config`` with top-level or ``strategy__field`` / ``augment__field`` changes."""
    top = {k: v for k, v in changes.items() if "__" not in k}
    for prefix in ("strategy", "augment"):
        nested = {k.split("__", 1)[1]: v for k, v in changes.items() if k.startswith(prefix + "__")}
        if nested:
            top[prefix] = replace(getattr(config, prefix), **nested)
    return replace(config, **top)


def wants_pretrained(config: TrainConfig) -> bool:
    """Whether the run needs pretrained weights: every strategy but from-scratch does, on every backbone but those
    registered as random-init only (the test suite's tiny models); such a run records ``pretrained: false``."""
    return uses_pretrained(config.strategy) and not random_init_only(config.backbone)
