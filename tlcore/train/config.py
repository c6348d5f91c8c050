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
from tlcore.train.strategies import StrategyConfig, uses_pretrained

MONITORS = ("val_loss", "val_accuracy", "val_balanced_accuracy")


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
        """Raise :class:`TlcoreError` naming the first setting that can't work."""
        if self.epochs < 1:
            raise TlcoreError(f"epochs must be at least 1 (got {self.epochs})")
        if self.batch_size < 2:
            raise TlcoreError(f"batch size must be at least 2 (got {self.batch_size})")
        if self.schedule not in SCHEDULES:
            raise TlcoreError(f"schedule must be one of {', '.join(SCHEDULES)} (got {self.schedule!r})")
        if self.monitor not in MONITORS:
            raise TlcoreError(f"monitor must be one of {', '.join(MONITORS)} (got {self.monitor!r})")
        if self.aug_views < 1:
            raise TlcoreError(f"augmentation views must be at least 1 (got {self.aug_views})")
        if self.strategy.head_lr <= 0:
            raise TlcoreError(f"head learning rate must be positive (got {self.strategy.head_lr})")


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
