"""Early stopping: watch the monitored validation score, keep a snapshot of the best epoch, restore it at the end."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tlcore.train.strategies import StrategyConfig, trainable_group_count

if TYPE_CHECKING:
    import torch

    from tlcore.models.transfer import TransferModel


def changing_state_keys(model: "TransferModel", strategy: StrategyConfig, epochs: int) -> set[str]:
    """State-dict keys that training can change: everything but the groups frozen in every epoch.

    Frozen groups keep their weights and, staying in eval mode, their BatchNorm statistics, so the best epoch's
    snapshot needs only the rest: for feature extraction that is the head alone, not the whole backbone.
    """
    n_groups = model.num_groups
    most = max(trainable_group_count(strategy, n_groups, e) for e in range(epochs))
    static = {f"backbone.{p}" for g in model.groups[:n_groups - most] for p in g.param_names}
    owned: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        owned.setdefault(name.rpartition(".")[0], []).append(name)
    keys = set()
    for key in model.state_dict():
        if key in static:
            continue
        params = owned.get(key.rpartition(".")[0])
        if params and key not in params and all(p in static for p in params):
            continue  # a buffer (BatchNorm statistics) of an always-frozen module
        keys.add(key)
    return keys


def improved(monitor: str, value: float, best: float | None) -> bool:
    """Whether ``value`` of ``monitor`` beats ``best`` (lower loss, higher accuracy; NaN never does)."""
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value < best if monitor == "val_loss" else value > best


class EarlyStopping:
    """Tracks the best epoch of ``monitor`` and says when ``patience`` epochs in a row failed to beat it (0 = never).

    Each improvement snapshots the tensors given to :meth:`update`; :meth:`restore` loads the last snapshot.
    """

    def __init__(self, monitor: str, patience: int) -> None:
        self.monitor, self.patience = monitor, patience
        self.best_value: float | None = None
        self.best_epoch = 0  # 1-based; 0 until an epoch gives a usable value
        self.bad_epochs = 0
        self.stopped = False
        self._snapshot: dict[str, "torch.Tensor"] | None = None

    def update(self, epoch: int, value: float, tracked: dict[str, "torch.Tensor"]) -> bool:
        """Record ``value`` of the 1-based ``epoch``; True when training should stop now."""
        if improved(self.monitor, value, self.best_value):
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            self._snapshot = {k: v.detach().clone() for k, v in tracked.items()}
            return False
        self.bad_epochs += 1
        self.stopped = bool(self.patience) and self.bad_epochs >= self.patience
        return self.stopped

    def restore(self, model: "TransferModel", changing: set[str]) -> None:
        """Load the best epoch's snapshot into ``model`` (nothing to do if no epoch gave a usable value).

        Raises:
            RuntimeError: if the snapshot lacks a tensor in ``changing`` (what training could have changed).
        """
        if self._snapshot is None:
            return
        missing = set(model.load_state_dict(self._snapshot, strict=False).missing_keys) & changing
        if missing:
            raise RuntimeError(f"the best epoch's snapshot lacks tensors that training changed: "
                               f"{', '.join(sorted(missing)[:5])}")
