"""Tiny models with known answers for the explain tests."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcore.models.factory import create_backbone
from tlcore.models.transfer import TransferModel

TINY_BACKBONES = ("timm/test_efficientnet", "timm/test_resnet", "timm/test_vit")


class TopLeft(nn.Module):
    """Zeroes everything outside the top-left quadrant."""

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        mask = torch.zeros_like(x)
        mask[..., : h // 2, : w // 2] = 1
        return x * mask


class CornerNet(nn.Module):
    """Logits depend only on the image's top-left quadrant (conv features are masked, no biases leak)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), TopLeft(), nn.Conv2d(8, 8, 1, bias=False), nn.ReLU()
        )
        self.head = nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def tiny_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2),
    )


def blob_images(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """32x32 noise with an 8x8 blob in the red (class 0) or green (class 1) channel at a random place."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.3
    y = torch.randint(0, 2, (n,), generator=g)
    for i in range(n):
        r, c = (int(v) for v in torch.randint(0, 24, (2,), generator=g))
        x[i, int(y[i]), r : r + 8, c : c + 8] += 2.0
    return x, y


def tiny_transfer_model(name: str, num_classes: int = 3) -> TransferModel:
    torch.manual_seed(0)
    return TransferModel(create_backbone(name, pretrained=False), num_classes)


@pytest.fixture
def corner_net() -> CornerNet:
    torch.manual_seed(0)
    return CornerNet()


@pytest.fixture(scope="session")
def trained_blob_net() -> nn.Sequential:
    """tiny_cnn trained briefly to tell the blob's colour apart (test accuracy 1.0)."""
    torch.manual_seed(1)
    model = tiny_cnn()
    x, y = blob_images(256, 1)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        idx = torch.randperm(len(x))[:64]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


@pytest.fixture(scope="module")
def run(saved_run):
    """The saved run of ``saved_run``, loaded."""
    from tlcore.runs.store import load_run

    ws, _, run_id = saved_run
    return load_run(ws, run_id)
