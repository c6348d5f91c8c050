"""The timm adapter: an offline or unreachable hub and missing weights are refused at once."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import timm

from tlcore.errors import WeightsUnavailable
from tlcore.models import timm_family
from tlcore.models.factory import create_backbone


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
    monkeypatch.setattr(timm_family, "timm_weights_cached", lambda arch: True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailable, match=r"timm/test_efficientnet.*LocalEntryNotFoundError") as info:
        create_backbone("timm/test_efficientnet", pretrained=True)
    assert isinstance(info.value.__cause__, OSError)


def test_timm_model_without_pretrained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timm.models, "is_model_pretrained", lambda arch: False)
    with pytest.raises(WeightsUnavailable, match="no pretrained weights for 'test_vit'"):
        create_backbone("timm/test_vit", pretrained=True)
