"""Early stopping (tlcore.train.stopping): the best epoch, patience, NaN scores and the snapshot it restores."""

from __future__ import annotations

import math

import pytest
import torch

from tlcore.train.stopping import EarlyStopping, improved


def test_improvement_depends_on_the_monitor_and_nan_never_improves() -> None:
    assert improved("val_loss", 0.5, None) and improved("val_loss", 0.4, 0.5) and not improved("val_loss", 0.6, 0.5)
    assert improved("val_accuracy", 0.6, 0.5) and not improved("val_accuracy", 0.4, 0.5)
    assert not improved("val_loss", math.nan, None) and improved("val_loss", 9.0, math.nan)


def test_patience_counts_epochs_without_improvement_and_the_best_snapshot_is_restored() -> None:
    weight = torch.nn.Parameter(torch.zeros(2))
    stopping = EarlyStopping("val_accuracy", patience=2)
    assert not stopping.update(1, 0.5, {"w": weight})
    with torch.no_grad():
        weight.add_(1.0)
    assert not stopping.update(2, 0.5, {"w": weight})  # a tie is no improvement
    assert stopping.update(3, 0.4, {"w": weight})
    assert (stopping.best_epoch, stopping.stopped, stopping.bad_epochs) == (1, True, 2)
    model = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="lacks tensors"):
        stopping.restore(model, {"weight"})  # the snapshot holds "w", not the model's weight


def test_patience_zero_never_stops() -> None:
    stopping = EarlyStopping("val_loss", patience=0)
    assert not any(stopping.update(e, 1.0 + e, {}) for e in range(1, 6))
    assert stopping.best_epoch == 1 and not stopping.stopped
