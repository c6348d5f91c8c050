"""The torchvision adapter: preprocessing from the weights preset, offline refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models.factory import create_backbone


def test_torchvision_data_config_from_weights_preset() -> None:
    bb = create_backbone("torchvision/efficientnet_b0", pretrained=False)
    assert bb.data_config == DataConfig(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic", 224 / 256)
    assert create_backbone("torchvision/resnet18", pretrained=False).data_config.interpolation == "bilinear"


def test_torchvision_offline_raises_weights_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        no_network: None) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailable, match=r"torchvision/resnet18.*offline backbone"):
        create_backbone("torchvision/resnet18", pretrained=True)
