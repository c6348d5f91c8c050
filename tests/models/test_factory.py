"""The backbone factory: weights files load exactly, or are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch

from tlcore.errors import WeightsUnavailable
from tlcore.models.factory import create_backbone


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
