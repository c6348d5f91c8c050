"""Shared pytest setup and helpers: modest torch threading (2 shared cores), tiny random-init backbones, a small
imported dataset and the tiny training config most tests start from."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import tlcore.runtime

ROOT = Path(__file__).resolve().parent.parent
# Every process of the session (job workers, CLI runs, the app's server) imports the test plugins and finds them.
os.environ.setdefault("TLCORE_PLUGINS", "tests.plugins.backbones,tests.plugins.jobs")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
tlcore.runtime.setup(threads=1)  # before torch loads; one thread each: the 2 cores are shared


import pytest
import torch

from tests.synthetic import write_class_folder
from tlcore.data import import_folder
from tlcore.data.augment import NO_AUGMENT
from tlcore.models.factory import Backbone, create_backbone
from tlcore.train.config import TrainConfig
from tlcore.train.strategies import StrategyConfig
from tlcore.workspace import Workspace



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


TINY = "timm/test_efficientnet"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def dataset(ws, tmp_path):
    root = write_class_folder(tmp_path / "imgs", n_per_class=10, size=20)
    ds, _ = import_folder(ws, root)
    return ds


def tiny_config(strategy: str | StrategyConfig = "feature-extraction", **kw) -> TrainConfig:
    s = strategy if isinstance(strategy, StrategyConfig) else StrategyConfig(
        name=strategy, fine_tune_groups=2, unfreeze_every=1, head_lr=1e-2)
    base = TrainConfig(backbone=TINY, strategy=s, epochs=3, batch_size=8, patience=0, augment=NO_AUGMENT,
                       image_size=32, val_fraction=0.2, test_fraction=0.2, seed=0)
    return replace(base, **kw)


def fresh_backbone():
    torch.manual_seed(123)
    return create_backbone(TINY, pretrained=False)


class ImageCounter:
    """Counts images passing through a module's forward."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.images = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        self.images += inputs[0].shape[0]


class SeededFactory:
    """Fresh tiny backbones with identical random weights (as the default factory gives for random init), counted."""

    def __init__(self) -> None:
        self.images = 0
        self.created = 0
        self._counters: list[ImageCounter] = []

    def __call__(self, config):
        import torch

        torch.manual_seed(123)
        backbone = create_backbone(TINY, pretrained=False)
        self._counters.append(ImageCounter(backbone.model))
        self.created += 1
        return backbone

    @property
    def images_seen(self) -> int:
        return sum(c.images for c in self._counters)
