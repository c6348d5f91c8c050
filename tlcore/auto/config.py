"""The auto recipe's settings (:class:`AutoConfig`) and their checks; torch-free, for the CLI, jobs and forms."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from tlcore.errors import TlcoreError
from tlcore.models.efficientnet_lite import LITE
from tlcore.train.strategies import Limit, SettingError, check_limits

AUTO = "auto"  # the strategy name the CLI and the app show for the auto recipe
DEFAULT_BUDGET = 300.0  # seconds: five minutes on a 2-core laptop
KINDS = ("pixels", "probe", "head", "fine-tune", "scratch")  # the kinds of candidate, cheapest first
AUGMENTS = ("none", "default", "no-flips")  # augmentation settings a trained candidate can be tried with

AUTO_LIMITS: dict[str, Limit] = {
    "budget": Limit(1, 7 * 24 * 3600),
    "folds": Limit(2, 20, integer=True),
    "max_epochs": Limit(1, 1000, integer=True),
    "aug_views": Limit(1, 16, integer=True),
}


@dataclass(frozen=True)
class AutoConfig:
    """What the auto recipe may try, and for how long.

    The shared training settings (seed, test fraction, batch size, weight decay, ...) come from the
    :class:`~tlcore.train.config.TrainConfig` it is given with this.
    """

    budget: float = DEFAULT_BUDGET  # seconds for everything: selection, refit and the test
    folds: int = 5  # stratified folds of the non-test part every candidate is scored on
    backbones: tuple[str, ...] = tuple(LITE)  # offline backbones whose features are tried, in order
    kinds: tuple[str, ...] = KINDS  # which kinds of candidate to consider
    augments: tuple[str, ...] = AUGMENTS  # augmentation settings tried for the trained head and fine-tuning
    max_epochs: int = 10  # trained candidates: at most this many epochs (early stopping on the inner validation)
    aug_views: int = 2  # augmented views per image in the bank of an augmented candidate
    only: str = ""  # a candidate name: try just that one (a leaderboard's "open this candidate")

    def check(self) -> None:
        """Raise :class:`~tlcore.train.strategies.SettingError` naming the first setting that can't work."""
        check_limits(self, AUTO_LIMITS, prefix="auto.")
        for name, allowed in (("kinds", KINDS), ("augments", AUGMENTS)):
            values = getattr(self, name)
            bad = [v for v in values if v not in allowed]
            if bad or not values:
                raise SettingError(f"Setting 'auto.{name}' is {list(values)!r}; use one or more of "
                                   f"{', '.join(allowed)}.")
        if not self.backbones and any(k in self.kinds for k in ("probe", "head", "fine-tune", "scratch")):
            raise SettingError("Setting 'auto.backbones' is empty; name at least one backbone, or try only pixels.")


def auto_to_dict(config: AutoConfig) -> dict[str, Any]:
    """A JSON-ready dict of ``config`` (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def auto_from_dict(data: dict[str, Any]) -> AutoConfig:
    """Inverse of :func:`auto_to_dict`; unknown keys are refused by name."""
    known = {f.name for f in fields(AutoConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TlcoreError(f"unknown AutoConfig setting(s): {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    config = AutoConfig(**values)
    config.check()
    return config
