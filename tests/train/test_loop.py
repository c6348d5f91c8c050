"""The training loop: strategies end to end, the frozen part runs once per image, reproducibility, caching."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import ImageCounter, fresh_backbone, tiny_config
from tlcore.data.augment import AugmentConfig
from tlcore.errors import Cancelled
from tlcore.events import CancelToken, EpochEnd
from tlcore.train import loop
from tlcore.train.loop import train
from tlcore.train.strategies import StrategyConfig


@pytest.mark.parametrize("strategy", ["feature-extraction", "fine-tune", "full", "gradual", "scratch"])
def test_every_strategy_trains_and_reports_metrics(ws, dataset, strategy):
    epochs = []
    result = train(ws, dataset, tiny_config(strategy), on_event=lambda e: epochs.append(e) if isinstance(
        e, EpochEnd) else None, backbone=fresh_backbone())
    assert len(result.history) == 3 and len(epochs) == 3
    assert result.test_metrics["n"] == len(result.split.test)
    assert result.test_probs.shape == (len(result.split.test), 3)
    assert np.allclose(result.test_probs.sum(1), 1, atol=1e-5)
    n_groups = len(result.backbone.groups)
    groups = [h["trainable_groups"] for h in result.history]
    expected = {"feature-extraction": [0, 0, 0], "fine-tune": [2, 2, 2], "full": [n_groups] * 3,
                "gradual": [0, 1, 2], "scratch": [n_groups] * 3}[strategy]
    assert groups == expected
    modes = [h["inputs"] for h in result.history]
    expected_modes = {"feature-extraction": ["features"] * 3, "fine-tune": ["prefix"] * 3, "full": ["none"] * 3,
                      "gradual": ["features", "prefix", "prefix"], "scratch": ["none"] * 3}[strategy]
    assert modes == expected_modes


def test_feature_extraction_learns_the_synthetic_colours(ws, dataset):
    cfg = tiny_config(StrategyConfig(head_lr=0.05, dropout=0.0), epochs=40)
    result = train(ws, dataset, cfg, backbone=fresh_backbone())
    assert result.val_metrics["accuracy"] >= 0.8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_frozen_backbone_runs_once_per_image_not_once_per_epoch(ws, dataset):
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    result = train(ws, dataset, tiny_config(epochs=6), backbone=backbone)
    n_images = len(dataset.records)
    assert counter.images == n_images  # train + val once for the cache, test once for the final predictions
    assert len(result.history) == 6


def test_a_second_run_on_the_same_data_reuses_the_cache(ws, dataset):
    train(ws, dataset, tiny_config(), backbone=fresh_backbone())
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    result = train(ws, dataset, tiny_config(), backbone=backbone)
    assert counter.images == len(result.split.test)  # features come from the cache; only the test pass runs


def test_changing_the_key_refills_the_cache(ws, dataset):
    train(ws, dataset, tiny_config(), backbone=fresh_backbone())
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    train(ws, dataset, tiny_config(image_size=40), backbone=backbone)
    assert counter.images == len(dataset.records)


def test_augmentation_bank_costs_a_fixed_number_of_passes(ws, dataset):
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    cfg = tiny_config(epochs=5, augment=AugmentConfig(), aug_views=2)
    result = train(ws, dataset, cfg, backbone=backbone)
    n_train, n_val, n_test = len(result.split.train), len(result.split.val), len(result.split.test)
    assert counter.images == 2 * n_train + n_val + n_test
    assert result.cache_mode == "aug-bank"


def test_fine_tune_runs_the_frozen_prefix_once_per_image(ws, dataset):
    backbone = fresh_backbone()
    first_stage = ImageCounter(backbone.stages[0])
    last_stage = ImageCounter(backbone.stages[-1])
    result = train(ws, dataset, tiny_config("fine-tune", epochs=4), backbone=backbone)
    n_fit = len(result.split.train) + len(result.split.val)
    # the stage wrappers see only the cached-prefix pass (the final test pass runs the model itself)
    assert first_stage.images == n_fit
    assert last_stage.images > 4 * len(result.split.train)  # the trainable tail runs every epoch
    assert result.cache_mode == "prefix" and n_fit < len(dataset.records)


def test_without_the_cache_the_backbone_runs_every_epoch(ws, dataset):
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    result = train(ws, dataset, tiny_config(epochs=3, cache=False), backbone=backbone)
    assert counter.images >= 3 * len(result.split.train)
    assert result.cache_mode == "none"


@pytest.mark.parametrize("strategy", ["feature-extraction", "fine-tune"])
def test_cached_and_uncached_training_agree(ws, dataset, strategy):
    cached = train(ws, dataset, tiny_config(strategy), backbone=fresh_backbone())
    uncached = train(ws, dataset, tiny_config(strategy, cache=False), backbone=fresh_backbone())
    assert cached.test_metrics["accuracy"] == uncached.test_metrics["accuracy"]
    for a, b in zip(cached.history, uncached.history):
        assert a["val_accuracy"] == b["val_accuracy"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    np.testing.assert_allclose(cached.test_probs, uncached.test_probs, atol=1e-4)


def test_same_seed_same_metrics_and_a_different_seed_differs(ws, dataset):
    cfg = tiny_config("fine-tune", augment=AugmentConfig(), epochs=2)
    a = train(ws, dataset, cfg, backbone=fresh_backbone())
    b = train(ws, dataset, cfg, backbone=fresh_backbone())
    def without_time(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert without_time(a.history) == without_time(b.history)
    assert a.test_metrics == b.test_metrics
    np.testing.assert_array_equal(a.test_probs, b.test_probs)
    c = train(ws, dataset, replace(cfg, seed=1), backbone=fresh_backbone())
    assert without_time(c.history) != without_time(a.history)


def test_full_training_with_augmentation_is_reproducible(ws, dataset):
    cfg = tiny_config("full", augment=AugmentConfig(vflip=True), epochs=2)
    a = train(ws, dataset, cfg, backbone=fresh_backbone())
    b = train(ws, dataset, cfg, backbone=fresh_backbone())
    np.testing.assert_array_equal(a.test_probs, b.test_probs)


def test_early_stopping_restores_the_best_epoch(ws, dataset):
    cfg = tiny_config(StrategyConfig(name="feature-extraction", head_lr=1e-12), epochs=10, patience=2,
                      monitor="val_accuracy")
    result = train(ws, dataset, cfg, backbone=fresh_backbone())
    assert result.stopped_early
    assert len(result.history) == 3  # epoch 1 sets the best, epochs 2-3 don't beat it
    assert result.best_epoch == 1


def test_cancel_stops_training(ws, dataset):
    token = CancelToken()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, EpochEnd):
            token.cancel()

    with pytest.raises(Cancelled):
        train(ws, dataset, tiny_config(epochs=5), on_event=on_event, cancel=token, backbone=fresh_backbone())
    assert sum(isinstance(e, EpochEnd) for e in seen) == 1


def test_class_weighted_loss_and_label_smoothing_run(ws, dataset):
    result = train(ws, dataset, tiny_config(StrategyConfig(head="mlp", dropout=0.3), class_weighted=True,
                                            label_smoothing=0.1, schedule="onecycle"),
                   backbone=fresh_backbone())
    assert np.isfinite(result.history[-1]["train_loss"])


def test_test_split_can_be_scored_from_the_cache(ws, dataset):
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    cached = train(ws, dataset, tiny_config(epochs=2), backbone=backbone, test_from_cache=True)
    assert counter.images == len(dataset.records)  # the test images ran once, into the cache
    backbone = fresh_backbone()
    counter = ImageCounter(backbone.model)
    again = train(ws, dataset, tiny_config(epochs=2), backbone=backbone, test_from_cache=True)
    assert counter.images == 0  # everything, the test images included, came from the cache
    plain = train(ws, dataset, tiny_config(epochs=2), backbone=fresh_backbone())
    np.testing.assert_allclose(cached.test_probs, plain.test_probs, atol=1e-5)
    np.testing.assert_array_equal(cached.test_probs, again.test_probs)


def test_gradual_unfreezing_keeps_the_heads_adam_state_over_all_phases(ws, dataset, monkeypatch):
    phases = []
    real = loop.start_phase

    def recording(*args, **kwargs):
        phases.append(real(*args, **kwargs))
        return phases[-1]

    monkeypatch.setattr(loop, "start_phase", recording)
    result = train(ws, dataset, tiny_config("gradual", epochs=3), backbone=fresh_backbone())
    assert [p.n_trainable for p in phases] == [0, 1, 2]
    n, bs = len(result.split.train), 8
    steps_per_epoch = n // bs + (n % bs > 1)  # as EpochRunner counts them (a last batch of one is dropped)
    optimizer = phases[-1].optimizer
    # the head stepped in every epoch of every phase; the top group from its unfreeze on, the next one last epoch
    assert {int(optimizer.state[p]["step"]) for p in result.model.head.parameters()} == {3 * steps_per_epoch}
    assert all(p.optimizer is optimizer for p in phases)  # one optimizer, not one per phase
    top, below = result.model.groups[-1], result.model.groups[-2]
    params = dict(result.model.backbone.named_parameters())
    assert {int(optimizer.state[params[name]]["step"]) for name in top.param_names} == {2 * steps_per_epoch}
    assert {int(optimizer.state[params[name]]["step"]) for name in below.param_names} == {steps_per_epoch}


def test_an_augmented_cached_training_with_nothing_held_out_trains_on_the_bank(ws, dataset):
    """A refit on every non-test image (the auto recipe's) has no validation part; the bank still works."""
    from tlcore.data import Split, make_split

    config = tiny_config(augment=AugmentConfig(), aug_views=2)
    split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    everything = Split(train=np.sort(np.concatenate([split.train, split.val])), val=np.zeros(0, dtype=np.int64),
                       test=split.test, seed=0, val_fraction=0.0, test_fraction=config.test_fraction)
    result = train(ws, dataset, config, split=everything, backbone=fresh_backbone())
    assert result.cache_mode == "aug-bank" and len(result.history) == config.epochs
    assert result.test_probs.shape == (len(split.test), len(dataset.classes))
