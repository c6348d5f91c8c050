"""Shared pytest setup: modest torch threading (2 shared cores) and fresh tiny random-init backbones per test."""

from __future__ import annotations

import pytest
import torch

from tlcore.models.backbones import Backbone, create_backbone

torch.set_num_threads(1)


@pytest.fixture
def tiny_effnet() -> Backbone:
    """timm ``test_efficientnet`` (random init, 6 block groups, 256 features, stages available)."""
    torch.manual_seed(0)
    return create_backbone("timm/test_efficientnet", pretrained=False)


@pytest.fixture
def tiny_resnet() -> Backbone:
    """timm ``test_resnet`` (random init, 5 block groups, 96 features, stages available)."""
    torch.manual_seed(0)
    return create_backbone("timm/test_resnet", pretrained=False)


@pytest.fixture
def tiny_vit() -> Backbone:
    """timm ``test_vit`` (random init, 7 block groups, 64 features, no stages)."""
    torch.manual_seed(0)
    return create_backbone("timm/test_vit", pretrained=False)
