"""One epoch's helpers (tlcore.train.epoch): the per-epoch balanced accuracy; phases sharing one optimizer."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from tests.conftest import fresh_backbone, tiny_config
from tlcore.data import make_split
from tlcore.events import CancelToken, ignore_event
from tlcore.metrics import classification_metrics
from tlcore.models.transfer import TransferModel
from tlcore.train.epoch import EpochRunner, balanced_accuracy, extend_optimizer, start_phase
from tlcore.train.inputs import InputPipeline
from tlcore.train.stopping import changing_state_keys
from tlcore.train.strategies import StrategyConfig, param_groups


def test_the_per_epoch_balanced_accuracy_matches_the_metrics_module():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=50)
    labels[labels == 2] = 1  # class 2 absent from the labels
    probs = rng.dirichlet(np.ones(5), size=50)
    expected = classification_metrics(labels, probs, list("abcde"))["balanced_accuracy"]
    assert balanced_accuracy(labels, probs, 5) == pytest.approx(expected)
    assert np.isnan(balanced_accuracy(np.zeros(0, dtype=np.int64), np.zeros((0, 5)), 5))


def _head_state(optimizer, model) -> list[dict]:
    return [{k: v.clone() for k, v in optimizer.state[p].items()} for p in model.head.parameters()]


def test_gradual_unfreezing_keeps_the_optimizer_and_adds_the_new_group(ws, dataset):
    cfg = tiny_config(StrategyConfig(name="gradual", unfreeze_every=1, head_lr=1e-2, backbone_lr_ratio=0.1,
                                     lr_decay=0.5), epochs=3)
    split = make_split(dataset, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    backbone = fresh_backbone()
    torch.manual_seed(cfg.seed)
    model = TransferModel(backbone, len(dataset.classes))
    cancel = CancelToken()
    pipeline = InputPipeline(ws, dataset, split, model, backbone, cfg, ignore_event, cancel)
    runner = EpochRunner(model, cfg, dataset.labels[split.train], len(dataset.classes), ignore_event, cancel,
                         time.perf_counter())
    changing = changing_state_keys(model, cfg.strategy, cfg.epochs)
    steps = runner.steps_per_epoch

    first = start_phase(model, pipeline, cfg, 0, changing)
    optimizer = first.optimizer
    assert [g["name"] for g in optimizer.param_groups] == ["head"]
    runner.run(first, 0)
    head_before = _head_state(optimizer, model)
    assert all(int(s["step"]) == steps for s in head_before)

    second = start_phase(model, pipeline, cfg, 1, changing, previous=first)
    assert second.optimizer is optimizer
    assert second.inputs.mode == "prefix" and first.inputs.mode == "features"  # the inputs do change
    for kept, before in zip(_head_state(optimizer, model), head_before):  # untouched by the unfreeze
        assert kept.keys() == before.keys()
        for key in before:
            assert torch.equal(kept[key], before[key]), key
    top = model.groups[-1]
    new = optimizer.param_groups[-1]
    assert [g["name"] for g in optimizer.param_groups] == ["head", top.name]
    named = dict(model.backbone.named_parameters())
    assert [id(p) for p in new["params"]] == [id(named[n]) for n in top.param_names]
    assert new["lr"] == new["base_lr"] == pytest.approx(1e-3)  # head_lr * backbone_lr_ratio
    assert new["weight_decay"] == cfg.weight_decay
    assert all(p not in optimizer.state for p in new["params"])  # fresh state for the new group only
    record = runner.run(second, 1)
    assert all(int(optimizer.state[p]["step"]) == 2 * steps for p in model.head.parameters())
    assert all(int(optimizer.state[p]["step"]) == steps for p in new["params"])
    # the schedule scales every group's base rate by the same factor, the new group's included
    factor = optimizer.param_groups[0]["lr"] / optimizer.param_groups[0]["base_lr"]
    assert new["lr"] == pytest.approx(new["base_lr"] * factor)
    assert record["lr"] == optimizer.param_groups[0]["lr"]  # the history reports the head's rate

    third = start_phase(model, pipeline, cfg, 2, changing, previous=second)
    assert third.optimizer is optimizer
    names = [g["name"] for g in optimizer.param_groups]
    assert names == ["head", top.name, model.groups[-2].name]
    assert [g["base_lr"] for g in optimizer.param_groups] == pytest.approx([1e-2, 1e-3, 5e-4])  # lr_decay below
    # the rates are the strategy's, as a fresh optimizer for two groups would get them
    fresh = {g["name"]: g["lr"] for g in param_groups(model, cfg.strategy, 2)}
    assert {g["name"]: g["base_lr"] for g in optimizer.param_groups} == pytest.approx(fresh)


def test_extend_optimizer_adds_only_what_is_missing(tiny_resnet):
    model = TransferModel(tiny_resnet, 2)
    s = StrategyConfig("gradual", head_lr=0.1)
    optimizer = torch.optim.AdamW([{**g, "base_lr": g["lr"]} for g in param_groups(model, s, 1)])
    assert extend_optimizer(optimizer, param_groups(model, s, 1)) == []
    assert extend_optimizer(optimizer, param_groups(model, s, 3)) == ["layer2", "layer3"]  # stem-most first
    assert [g["name"] for g in optimizer.param_groups] == ["layer4", "head", "layer2", "layer3"]
    partial = param_groups(model, s, 4)
    partial[0]["params"] = partial[0]["params"] + partial[1]["params"][:1]  # layer1 plus one of layer2's
    with pytest.raises(RuntimeError, match="only partly"):
        extend_optimizer(optimizer, partial)
