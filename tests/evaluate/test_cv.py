"""Cross-validation: one backbone pass for a whole frozen-backbone k-fold run, pristine backbones, reproducibility,
every strategy."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import SeededFactory, tiny_config
from tlcore.evaluate.cv import PristineBackbones, cross_validate, default_backbone_factory
from tlcore.events import EpochEnd


def test_frozen_backbone_k_fold_runs_the_backbone_once_per_image(ws, dataset):
    factory = SeededFactory()
    result = cross_validate(ws, dataset, tiny_config(epochs=2), k=3, backbone_factory=factory)
    assert factory.created == 3  # a fresh model per fold
    assert factory.images_seen == len(set(dataset.hashes)) == 27  # and yet each image went through it only once
    assert [f.cache_mode for f in result.result.folds] == ["features"] * 3
    assert sum(f.n_test for f in result.result.folds) == 27
    for f in result.result.folds:
        assert f.n_train + f.n_val + f.n_test == 27 and f.n_val >= 3  # inner validation: >= 1 image per class


def test_pristine_backbones_are_built_once_shared_when_frozen_and_copied_when_trained(ws, dataset, monkeypatch):
    frozen, fine = tiny_config(epochs=2), tiny_config("fine-tune", epochs=2)
    factory = PristineBackbones()
    kept = factory(frozen)
    assert factory(frozen) is kept  # feature extraction only runs it frozen
    copied = factory(fine)
    assert copied is not kept and copied.model is not kept.model
    inside = {id(m) for m in copied.model.modules()}
    assert all(id(m) in inside for stage in copied.stages for m in stage)  # the stages run the copy's modules
    before = {k: v.clone() for k, v in kept.model.state_dict().items()}

    reused = cross_validate(ws, dataset, fine, k=3, backbone_factory=factory)
    cross_validate(ws, dataset, frozen, k=3, backbone_factory=factory)
    after = factory(frozen).model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    built = cross_validate(ws, dataset, fine, k=3, backbone_factory=default_backbone_factory)  # a new build per fold
    assert [f.metrics["log_loss"] for f in reused.result.folds] == pytest.approx(
        [f.metrics["log_loss"] for f in built.result.folds], abs=1e-6)


def test_same_seed_gives_the_same_fold_metrics_and_events_carry_the_fold(ws, dataset):
    events = []
    config = tiny_config("fine-tune", epochs=2)
    a = cross_validate(ws, dataset, config, k=3, on_event=events.append, backbone_factory=SeededFactory())
    b = cross_validate(ws, dataset, config, k=3, backbone_factory=SeededFactory())
    rows_a = [f.row() for f in a.result.folds]
    rows_b = [f.row() for f in b.result.folds]
    for ra, rb in zip(rows_a, rows_b):
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "n_test"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-9)
    assert sorted({e.fold for e in events if isinstance(e, EpochEnd)}) == [1, 2, 3]
    assert sum(isinstance(e, EpochEnd) for e in events) == 6


@pytest.mark.parametrize("strategy", ["gradual", "full", "scratch"])
def test_every_strategy_cross_validates(ws, dataset, strategy):
    result = cross_validate(ws, dataset, tiny_config(strategy, epochs=2), k=2, backbone_factory=SeededFactory())
    assert len(result.result.folds) == 2
    summary = result.summary
    assert 0 <= summary["accuracy"]["mean"] <= 1 and summary["accuracy"]["n"] == 2
    assert result.result.trainable_params > 0
