"""Shared pytest setup and helpers: the process set-up with the test plugins, modest torch threading (2 shared
cores), tiny random-init backbones, a small imported dataset, the tiny training config most tests start from and
a saved tiny run."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import tlcore.runtime

ROOT = Path(__file__).resolve().parent.parent
# Every process of the session (job workers, CLI runs, the app's server) imports the test plugins and finds them.
os.environ.setdefault("TLCORE_PLUGINS", "tests.plugins.backbones,tests.plugins.jobs")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
tlcore.runtime.setup(threads=1)  # before torch loads; one thread each: the 2 cores are shared

import pytest  # noqa: E402  (after the set-up above, which must precede torch)
import torch  # noqa: E402

from tests.synthetic import write_class_folder  # noqa: E402
from tlcore.data import import_folder  # noqa: E402
from tlcore.data.augment import NO_AUGMENT  # noqa: E402
from tlcore.models.factory import Backbone, create_backbone  # noqa: E402
from tlcore.train.config import TrainConfig  # noqa: E402
from tlcore.train.strategies import StrategyConfig  # noqa: E402
from tlcore.workspace import Workspace  # noqa: E402


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


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory):
    """A workspace with a 4-colour dataset and a saved run of the tiny random-init EfficientNet (image size 48), shared
    by the explain, CLI and job-kind tests of a session."""
    from tlcore.runs.store import save_run
    from tlcore.train.loop import train

    root = tmp_path_factory.mktemp("saved-run-ws")
    ws = Workspace(root / "ws")
    folder = write_class_folder(root / "imgs", classes=("red", "green", "blue", "yellow"), n_per_class=10, size=40)
    dataset, _ = import_folder(ws, folder, name="colours")
    config = TrainConfig(backbone="timm/test_efficientnet", strategy=StrategyConfig(head_lr=1e-2), epochs=2,
                         batch_size=8, patience=0, augment=NO_AUGMENT, image_size=48, val_fraction=0.2,
                         test_fraction=0.4, seed=0)
    torch.manual_seed(0)
    result = train(ws, dataset, config, backbone=create_backbone("timm/test_efficientnet", pretrained=False))
    return ws, dataset, save_run(ws, result, dataset, label="explain tests")


@pytest.fixture(params=["made", "bare"])
def read_only_folder(request, tmp_path):
    """A folder nothing can be written in, with the workspace's folders already made ("made") or not ("bare").

    As root, permission bits do not stop a write, so the folder is then a tmpfs remounted read-only (skipped, with
    the reason, where mounting is not allowed); otherwise its modes are cleared."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root, and a read-only tmpfs cannot be mounted here (permission bits stop no write)")
        try:
            if request.param == "made":
                Workspace(folder)
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
        return
    if request.param == "made":
        Workspace(folder)
    paths = [folder, *folder.iterdir()]
    for p in paths:
        p.chmod(0o555)
    try:
        yield folder
    finally:
        for p in paths:
            p.chmod(0o755)
