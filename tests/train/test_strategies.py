"""Strategy recipes: trainable groups per epoch and per-group learning rates, with exact numbers."""

from __future__ import annotations

import pytest
import torch

from tlcore.models.factory import Backbone
from tlcore.models.transfer import TransferModel
from tlcore.train.strategies import (
    CATALOGUE,
    STRATEGIES,
    STRATEGY_LABELS,
    StrategyConfig,
    group_lrs,
    param_groups,
    strategy_of,
    trainable_group_count,
    uses_pretrained,
)

EFFNET_GROUPS = ["conv_stem+bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4+conv_head+bn2"]


def _summary(groups: list[dict]) -> list[tuple[str, float]]:
    return [(g["name"], g["lr"]) for g in groups]


def _schedule(strategy: StrategyConfig, n_groups: int, epochs: int) -> list[int]:
    return [trainable_group_count(strategy, n_groups, e) for e in range(epochs)]


def test_strategy_names_and_defaults() -> None:
    assert STRATEGIES == ("feature-extraction", "fine-tune", "full", "gradual", "scratch")
    s = StrategyConfig()
    assert (s.name, s.fine_tune_groups, s.unfreeze_every, s.head_lr, s.backbone_lr_ratio, s.lr_decay) == (
        "feature-extraction", 2, 2, 3e-3, 0.1, 1.0)
    assert [uses_pretrained(StrategyConfig(name=n)) for n in STRATEGIES] == [True, True, True, True, False]


@pytest.mark.parametrize("kwargs, setting", [
    ({"name": "freeze-all"}, "freeze-all"), ({"fine_tune_groups": -1}, "fine_tune_groups"),
    ({"unfreeze_every": 0}, "unfreeze_every"), ({"head_lr": 0.0}, "head_lr"),
    ({"backbone_lr_ratio": 0.0}, "backbone_lr_ratio"), ({"lr_decay": 1.5}, "lr_decay"),
    ({"head": "conv"}, "head"), ({"hidden": 0}, "hidden"), ({"dropout": 1.0}, "dropout"),
])
def test_invalid_settings_are_named(kwargs: dict, setting: str) -> None:
    with pytest.raises(ValueError, match=setting):
        StrategyConfig(**kwargs)


def test_group_counts_per_epoch() -> None:
    assert _schedule(StrategyConfig("feature-extraction"), 6, 5) == [0, 0, 0, 0, 0]
    assert _schedule(StrategyConfig("fine-tune", fine_tune_groups=2), 6, 3) == [2, 2, 2]
    assert _schedule(StrategyConfig("fine-tune", fine_tune_groups=9), 6, 2) == [6, 6]
    assert _schedule(StrategyConfig("full"), 6, 3) == [6, 6, 6]
    assert _schedule(StrategyConfig("scratch"), 6, 3) == [6, 6, 6]
    assert _schedule(StrategyConfig("gradual", unfreeze_every=2), 6, 16) == [
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 6]
    assert _schedule(StrategyConfig("gradual", unfreeze_every=1), 3, 6) == [0, 1, 2, 3, 3, 3]


def test_feature_extraction_trains_head_only(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("feature-extraction", head_lr=0.01)
    model = TransferModel(tiny_effnet, 3)
    n = trainable_group_count(s, model.num_groups, epoch=7)
    model.set_trainable(n)
    groups = param_groups(model, s, n)
    assert _summary(groups) == [("head", 0.01)]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.head.parameters()}
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_fine_tune_discriminative_lrs(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("fine-tune", fine_tune_groups=3, head_lr=1e-2, backbone_lr_ratio=0.1, lr_decay=0.5)
    model = TransferModel(tiny_effnet, 3)
    n = trainable_group_count(s, model.num_groups, epoch=0)
    model.set_trainable(n)
    summary = _summary(param_groups(model, s, n))
    assert [name for name, _ in summary] == ["blocks.2", "blocks.3", "blocks.4+conv_head+bn2", "head"]
    assert [lr for _, lr in summary] == pytest.approx([2.5e-4, 5e-4, 1e-3, 1e-2])
    trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert trainable == {p for g in model.groups[3:] for p in g.param_names}


def test_full_uses_ratio_without_decay(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("full", head_lr=3e-3, backbone_lr_ratio=0.1)
    model = TransferModel(tiny_effnet, 3)
    groups = param_groups(model, s, trainable_group_count(s, model.num_groups, 0))
    assert [g["name"] for g in groups] == EFFNET_GROUPS + ["head"]
    assert [g["lr"] for g in groups] == pytest.approx([3e-4] * 6 + [3e-3])
    # every parameter is in exactly one optimizer group
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_full_with_decay_goes_down_group_by_group(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("full", head_lr=1e-3, backbone_lr_ratio=0.1, lr_decay=0.5)
    lrs = [g["lr"] for g in param_groups(TransferModel(tiny_effnet, 3), s, 6)]
    assert lrs == pytest.approx([1e-4 * 0.5 ** 5, 1e-4 * 0.5 ** 4, 1e-4 * 0.125, 1e-4 * 0.25, 5e-5, 1e-4, 1e-3])


def test_gradual_group_names_per_epoch(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("gradual", unfreeze_every=2, head_lr=1e-3, lr_decay=0.5)
    model = TransferModel(tiny_effnet, 3)
    seen = []
    for epoch in range(14):
        n = trainable_group_count(s, model.num_groups, epoch)
        model.set_trainable(n)
        groups = param_groups(model, s, n)
        seen.append([g["name"] for g in groups])
        assert {n for n, p in model.backbone.named_parameters() if p.requires_grad} == {
            p for g in model.groups[model.num_groups - n:] for p in g.param_names}
        if n:
            assert groups[-2]["lr"] == pytest.approx(1e-4)  # the top group always gets head_lr * ratio
            assert groups[0]["lr"] == pytest.approx(1e-4 * 0.5 ** (n - 1))
    head = ["head"]
    assert seen == [
        head, head,
        EFFNET_GROUPS[5:] + head, EFFNET_GROUPS[5:] + head,
        EFFNET_GROUPS[4:] + head, EFFNET_GROUPS[4:] + head,
        EFFNET_GROUPS[3:] + head, EFFNET_GROUPS[3:] + head,
        EFFNET_GROUPS[2:] + head, EFFNET_GROUPS[2:] + head,
        EFFNET_GROUPS[1:] + head, EFFNET_GROUPS[1:] + head,
        EFFNET_GROUPS + head, EFFNET_GROUPS + head,
    ]


def test_scratch_trains_everything_at_head_lr(tiny_effnet: Backbone) -> None:
    s = StrategyConfig("scratch", head_lr=5e-3, backbone_lr_ratio=0.1, lr_decay=0.5)
    model = TransferModel(tiny_effnet, 3)
    groups = param_groups(model, s, trainable_group_count(s, model.num_groups, 0))
    assert _summary(groups) == [(name, 5e-3) for name in EFFNET_GROUPS] + [("head", 5e-3)]
    assert group_lrs(s, 2) == [5e-3, 5e-3]


def test_param_groups_drive_an_optimizer(tiny_resnet: Backbone) -> None:
    s = StrategyConfig("fine-tune", fine_tune_groups=1, head_lr=0.1)
    model = TransferModel(tiny_resnet, 2)
    model.set_trainable(1)
    opt = torch.optim.SGD(param_groups(model, s, 1), lr=123.0)
    assert [(g["name"], g["lr"]) for g in opt.param_groups] == [("layer4", pytest.approx(0.01)), ("head", 0.1)]
    frozen_before = model.backbone.layer3[0].conv1.weight.detach().clone()
    model.train()
    torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 0, 1])).backward()
    opt.step()
    assert torch.equal(model.backbone.layer3[0].conv1.weight, frozen_before)


def test_the_catalogue_declares_each_strategy_once() -> None:
    assert tuple(CATALOGUE) == STRATEGIES and list(STRATEGY_LABELS) == list(STRATEGIES)
    assert STRATEGY_LABELS == {"feature-extraction": "feature extraction", "fine-tune": "fine-tune last groups",
                               "full": "full fine-tune", "gradual": "gradual unfreezing", "scratch": "from scratch"}
    assert [strategy_of(StrategyConfig(name=n)).pretrained for n in STRATEGIES] == [True, True, True, True, False]


@pytest.mark.parametrize("name", ["gradual", "scratch"])
def test_a_groups_rate_does_not_change_as_more_groups_unfreeze(tiny_effnet: Backbone, name: str) -> None:
    # gradual unfreezing keeps each group's parameter group (and rate) in the optimizer once it is added
    s = StrategyConfig(name, head_lr=1e-3, backbone_lr_ratio=0.1, lr_decay=0.5)
    model = TransferModel(tiny_effnet, 3)
    every = dict(_summary(param_groups(model, s, model.num_groups)))
    for n in range(model.num_groups + 1):
        assert dict(_summary(param_groups(model, s, n))) == {k: every[k] for k in [*EFFNET_GROUPS[6 - n:], "head"]}
