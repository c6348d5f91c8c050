"""The epoch inputs (tlcore.train.inputs) use the caches: training, every CV fold and every head setting run the
frozen part once per image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from tests.conftest import TINY, ImageCounter, fresh_backbone
from tlcore.data.augment import NO_AUGMENT
from tlcore.train.caches import cache_entries, clear_cache
from tlcore.train.config import TrainConfig
from tlcore.train.loop import train
from tlcore.train.strategies import StrategyConfig


def config(strategy: str | StrategyConfig = "feature-extraction", **kw) -> TrainConfig:
    s = strategy if isinstance(strategy, StrategyConfig) else StrategyConfig(name=strategy, fine_tune_groups=2,
                                                                            head_lr=1e-2)
    base = TrainConfig(backbone=TINY, strategy=s, epochs=3, batch_size=8, patience=0, augment=NO_AUGMENT,
                       image_size=32, val_fraction=0.2, test_fraction=0.2, seed=0)
    return replace(base, **kw)


def test_a_whole_cross_validation_runs_the_backbone_once_per_image(ws, dataset):
    from tlcore.evaluate.cv import cross_validate

    counters = []

    def factory(cfg):
        backbone = fresh_backbone()
        counters.append(ImageCounter(backbone.model))
        return backbone

    result = cross_validate(ws, dataset, config(epochs=4), k=5, backbone_factory=factory)
    assert len(counters) == 5 and {f.cache_mode for f in result.result.folds} == {"features"}
    assert sum(c.images for c in counters) == len(set(dataset.hashes))  # every image once, over all folds
    assert counters[0].images > 0 and all(c.images == 0 for c in counters[1:])


def test_other_head_settings_and_epochs_reuse_the_features(ws, dataset):
    first = train(ws, dataset, config(), backbone=fresh_backbone(), test_from_cache=True)
    for change in ({"epochs": 5}, {"strategy": StrategyConfig(head="mlp", hidden=16, head_lr=0.05)},
                   {"label_smoothing": 0.1, "class_weighted": True, "schedule": "onecycle"}):
        backbone = fresh_backbone()
        counter = ImageCounter(backbone.model)
        result = train(ws, dataset, config(**change), backbone=backbone, test_from_cache=True)
        assert counter.images == 0 and result.cache_mode == "features"
    assert first.cache_bytes == (len(first.split.train) + len(first.split.val)) * first.backbone.num_features * 4


def test_the_prefix_cache_gives_the_same_run_in_memory_and_memory_mapped(ws, dataset):
    in_memory = train(ws, dataset, config("fine-tune"), backbone=fresh_backbone())
    clear_cache(ws)
    mapped = train(ws, dataset, config("fine-tune", memory_limit=1024), backbone=fresh_backbone())
    assert in_memory.cache_mode == mapped.cache_mode == "prefix"
    assert [e for e in cache_entries(ws) if e.key["boundary"].startswith("stage-")][0].nbytes > 1024
    np.testing.assert_array_equal(in_memory.test_probs, mapped.test_probs)
    assert [h["train_loss"] for h in in_memory.history] == [h["train_loss"] for h in mapped.history]


def test_the_best_epoch_is_restored_including_groups_that_unfroze_later(ws, dataset):
    backbone = fresh_backbone()
    initial = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    strategy = StrategyConfig(name="gradual", unfreeze_every=1, head_lr=1e-12)
    result = train(ws, dataset, config(strategy, epochs=6, patience=2, monitor="val_accuracy"), backbone=backbone)
    assert result.stopped_early and result.best_epoch == 1
    assert result.history[-1]["trainable_groups"] >= 1  # later epochs trained some groups (and their BatchNorm)
    state = result.model.backbone.state_dict()
    changed = [k for k in initial if not torch.equal(initial[k], state[k])]
    assert changed == []  # restored to epoch 1, when the whole backbone was still frozen
