"""TransferModel: head shapes, freezing by block group, frozen BatchNorm stays in eval mode."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tlcore.models.factory import Backbone
from tlcore.models.transfer import Dropout, TransferModel, make_head


def _trainable_names(model: TransferModel) -> set[str]:
    return {n for n, p in model.backbone.named_parameters() if p.requires_grad}


def _bn_modes(model: TransferModel) -> dict[str, bool]:
    return {n: m.training for n, m in model.backbone.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}


def test_forward_and_heads(tiny_effnet: Backbone) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert [type(m) for m in model.head] == [Dropout, nn.Linear]
    assert model.head[1].in_features == 256 and model.head[0].p == 0.2
    mlp = make_head(256, 5, head="mlp", hidden=32, dropout=0.3)
    assert [type(m) for m in mlp] == [Dropout, nn.Linear, nn.ReLU, Dropout, nn.Linear]
    assert (mlp[1].in_features, mlp[1].out_features, mlp[4].out_features) == (256, 32, 5)
    assert mlp[0].p == mlp[3].p == 0.3
    with pytest.raises(ValueError, match="'head'"):
        make_head(256, 5, head="transformer")
    with pytest.raises(ValueError, match="num_classes"):
        TransferModel(tiny_effnet, num_classes=1)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_zeroes_a_share_p_of_inputs_and_rescales_the_rest(p: float) -> None:
    layer = Dropout(p).train()
    x = torch.ones(64, 1000, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.01  # 64,000 draws: the share is within 1% of 1 - p
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert not torch.equal(kept[0], kept[1])  # a fresh mask per row
    y.sum().backward()  # the gradient flows through the kept inputs only, with the same scale
    assert torch.equal(x.grad, y.detach())
    assert not torch.equal(layer(x), y)  # and a fresh mask per call


def test_dropout_is_the_identity_in_eval_mode_and_repeatable_under_a_seed() -> None:
    x = torch.randn(8, 50)
    assert Dropout(0.5).eval()(x) is x

    def masks(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        layer = Dropout(0.3).train()
        return [layer(x) for _ in range(3)]

    assert all(torch.equal(a, b) for a, b in zip(masks(1), masks(1)))
    assert not torch.equal(masks(1)[0], masks(2)[0])
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_backbone_registered_once(tiny_effnet: Backbone) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    assert model.backbone_info is tiny_effnet and model.backbone is tiny_effnet.model
    names = list(model.state_dict())
    assert all(n.startswith(("backbone.", "head.")) for n in names)
    n_backbone = sum(p.numel() for p in tiny_effnet.model.parameters())
    assert sum(p.numel() for p in model.parameters()) == n_backbone + 256 * 3 + 3


def test_new_model_trains_everything(tiny_effnet: Backbone) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    assert model.frozen_groups == 0 and model.num_groups == 6
    assert model.trainable_parameters() == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("n, trainable_groups", [
    (0, []),
    (1, ["blocks.4+conv_head+bn2"]),
    (2, ["blocks.3", "blocks.4+conv_head+bn2"]),
    (6, ["conv_stem+bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4+conv_head+bn2"]),
    (99, ["conv_stem+bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4+conv_head+bn2"]),
])
def test_set_trainable_by_group(tiny_effnet: Backbone, n: int, trainable_groups: list[str]) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    model.set_trainable(n)
    assert [g.name for g in model.trainable_groups] == trainable_groups
    assert model.frozen_groups == 6 - len(trainable_groups)
    expected = {p for g in model.groups if g.name in trainable_groups for p in g.param_names}
    assert _trainable_names(model) == expected
    assert all(p.requires_grad for p in model.head.parameters())
    params = dict(model.backbone.named_parameters())
    head = 256 * 3 + 3
    assert model.trainable_parameters() == head + sum(params[p].numel() for p in expected)


def test_frozen_batchnorm_stays_in_eval_mode(tiny_resnet: Backbone) -> None:
    model = TransferModel(tiny_resnet, num_classes=4)
    model.set_trainable(2)  # layer3 and layer4 train
    model.train()
    modes = _bn_modes(model)
    assert modes, "test_resnet has BatchNorm layers"
    for name, training in modes.items():
        assert training == name.startswith(("layer3.", "layer4.")), name
    assert model.head.training and model.training
    # frozen BatchNorm statistics do not move during a training forward pass
    before = copy.deepcopy(model.backbone.bn1.running_mean)
    trained_before = copy.deepcopy(model.backbone.layer4[0].bn1.running_mean)
    model(torch.randn(4, 3, 64, 64) * 3 + 1)
    assert torch.equal(model.backbone.bn1.running_mean, before)
    assert not torch.equal(model.backbone.layer4[0].bn1.running_mean, trained_before)


def test_head_only_keeps_whole_backbone_in_eval(tiny_effnet: Backbone) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    model.set_trainable(0)
    model.train()
    assert not model.backbone.training
    assert not any(m.training for m in model.backbone.modules())
    assert model.head.training
    model.eval()
    assert not model.head.training
    model.set_trainable(6)
    model.train()
    assert all(_bn_modes(model).values())


def test_unfreezing_after_train_switches_modes(tiny_resnet: Backbone) -> None:
    model = TransferModel(tiny_resnet, num_classes=4)
    model.set_trainable(0)
    model.train()
    assert not any(_bn_modes(model).values())
    model.set_trainable(5)  # while in train mode: newly trainable BN must switch to train at once
    assert all(_bn_modes(model).values())


def test_frozen_parameters_get_no_gradient(tiny_resnet: Backbone) -> None:
    model = TransferModel(tiny_resnet, num_classes=4)
    model.set_trainable(1)
    model.train()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    grads = {n: p.grad for n, p in model.backbone.named_parameters()}
    assert all(grads[n] is None for n in grads if not n.startswith("layer4."))
    assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if n.startswith("layer4."))


def test_deepcopy_keeps_backbone_info_consistent(tiny_effnet: Backbone) -> None:
    model = TransferModel(tiny_effnet, num_classes=3)
    clone = copy.deepcopy(model)
    assert clone.backbone_info.model is clone.backbone
    assert clone.backbone_info.model is not model.backbone
    stage_params = {id(p) for s in clone.backbone_info.stages for p in s.parameters()}
    assert stage_params == {id(p) for p in clone.backbone.parameters()}


def test_test_time_flips_average_the_two_views_probabilities(tiny_effnet):
    import torch

    from tlcore.models.transfer import TransferModel

    torch.manual_seed(0)
    model = TransferModel(tiny_effnet, 3).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        one = torch.softmax(model(x), 1)
        mirror = torch.softmax(model(torch.flip(x, dims=(3,))), 1)
        model.tta = "hflip"
        both = torch.softmax(model(x), 1)
    assert torch.allclose(both, (one + mirror) / 2, atol=1e-6)
    assert not torch.allclose(one, mirror)
