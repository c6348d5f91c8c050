"""Block groups and stages: names, full coverage, stages that compose to the model."""

from __future__ import annotations

import pytest
import torch

from tlcore.models.factory import Backbone, create_backbone


def _compose(stages: list[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    for stage in stages:
        x = stage(x)
    return x


def test_timm_efficientnet_groups_and_features(tiny_effnet: Backbone) -> None:
    assert [g.name for g in tiny_effnet.groups] == [
        "conv_stem+bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4+conv_head+bn2"]
    assert tiny_effnet.num_features == 256
    assert tiny_effnet.data_config.input_size == 160
    with torch.no_grad():
        assert tiny_effnet.model(torch.randn(2, 3, 64, 64)).shape == (2, 256)


@pytest.mark.parametrize("name, group_names", [
    ("timm/test_resnet", ["conv1+bn1", "layer1", "layer2", "layer3", "layer4"]),
    ("torchvision/resnet18", ["conv1+bn1", "layer1", "layer2", "layer3", "layer4"]),
    ("timm/test_vit", ["cls_token+pos_embed+patch_embed", "blocks.0", "blocks.1", "blocks.2", "blocks.3",
                       "blocks.4", "blocks.5+norm"]),
])
def test_group_names(name: str, group_names: list[str]) -> None:
    assert [g.name for g in create_backbone(name, pretrained=False).groups] == group_names


@pytest.mark.parametrize("name", [
    "timm/test_efficientnet", "timm/test_resnet", "timm/test_vit", "timm/mobilenetv3_small_050",
    "torchvision/resnet18", "torchvision/mobilenet_v3_small", "torchvision/efficientnet_b0",
])
def test_groups_cover_every_parameter_once_and_no_classifier(name: str) -> None:
    bb = create_backbone(name, pretrained=False)
    grouped = [p for g in bb.groups for p in g.param_names]
    assert sorted(grouped) == sorted(n for n, _ in bb.model.named_parameters())
    assert len(grouped) == len(set(grouped))
    assert not any(p.startswith(("classifier.", "fc.", "head.fc.")) for p in grouped)


@pytest.mark.parametrize("name, size", [
    ("timm/test_efficientnet", 64), ("timm/test_resnet", 64), ("timm/mobilenetv3_small_050", 64),
    ("torchvision/resnet18", 64), ("torchvision/mobilenet_v3_small", 64), ("torchvision/efficientnet_b0", 64),
])
def test_stages_compose_to_the_model(name: str, size: int) -> None:
    torch.manual_seed(0)
    bb = create_backbone(name, pretrained=False)
    assert bb.stages is not None and len(bb.stages) == len(bb.groups)
    for stage, group in zip(bb.stages, bb.groups):  # stage i holds exactly group i's parameters
        stage_params = {id(p) for p in stage.parameters()}
        group_params = {id(bb.model.get_parameter(n)) for n in group.param_names}
        assert stage_params == group_params
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = bb.model(x)
        got = _compose(bb.stages, x)
    assert expected.shape == (2, bb.num_features)
    assert torch.allclose(got, expected, atol=1e-5)
    bb.model.train()  # batch statistics (and the same random stochastic depth): still the same computation
    with torch.no_grad():
        torch.manual_seed(1)
        got = _compose(bb.stages, x)
        torch.manual_seed(1)
        assert torch.allclose(got, bb.model(x), atol=1e-4)


def test_vit_has_no_stages(tiny_vit: Backbone) -> None:
    assert tiny_vit.stages is None
    with torch.no_grad():
        assert tiny_vit.model(torch.randn(1, 3, 160, 160)).shape == (1, tiny_vit.num_features)
