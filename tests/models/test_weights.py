"""Weights files: safetensors round trip with metadata, refusing pickles that run code, unwrapping checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

from tlcore.errors import UnsafeModelFile, WeightsUnavailable
from tlcore.models.weights import load_user_weights, load_weights, save_weights, validate_architecture


class _WritesMarker:
    """Unpickling this calls open(marker, "w"): creating the file is the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.command = f"touch {marker}"

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4),
            "bn.num_batches_tracked": torch.tensor(7), "fc.weight": torch.randn(2, 4).half()}


def _torch_bytes(folder: Path) -> bytes:
    torch.save(_state(), folder / "whole.pth")
    return (folder / "whole.pth").read_bytes()


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_round_trip_with_metadata(tmp_path: Path) -> None:
    meta = {"backbone": "efficientnet_lite0", "classes": ["cat", "dög"], "num_classes": 2, "head": "linear"}
    path = save_weights(tmp_path / "model.safetensors", _state(), meta)
    state, loaded_meta = load_weights(path)
    _assert_same(state, _state())
    assert loaded_meta == meta
    with safetensors.safe_open(str(path), framework="pt") as f:  # plain JSON under one key, nothing else
        assert json.loads(f.metadata()["tlcore"]) == meta
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left behind


def test_save_replaces_atomically_and_handles_shared_tensors(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_weights(path, {"a": torch.zeros(2)}, {})
    shared = torch.arange(6.0)
    tied = {"emb.weight": shared, "out.weight": shared, "view": shared[:3]}
    save_weights(path, tied, {"backbone": "timm/test_vit"})
    state, meta = load_weights(path)
    assert meta == {"backbone": "timm/test_vit"}
    assert torch.equal(state["emb.weight"], shared) and torch.equal(state["out.weight"], shared)
    assert torch.equal(state["view"], torch.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_unknown_architecture_in_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeModelFile, match="os.system"):
        save_weights(tmp_path / "x.safetensors", _state(), {"backbone": "os.system"})
    path = tmp_path / "evil.safetensors"  # written by someone else, bypassing save_weights
    safetensors.torch.save_file(_state(), str(path), metadata={"tlcore": json.dumps({"architecture": "__import__"})})
    with pytest.raises(UnsafeModelFile, match="__import__"):
        load_weights(path)
    with pytest.raises(UnsafeModelFile, match="__import__"):
        load_user_weights(path)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2", "timm/resnet50", "timm/test_resnet",
                                  "torchvision/efficientnet_b0"])
def test_known_architectures(name: str) -> None:
    assert validate_architecture(name) == name


@pytest.mark.parametrize("name", ["subprocess.run", "timm/../../etc", "torchvision/fasterrcnn_resnet50_fpn",
                                  "timm/no_such_model", "", None, 3])
def test_unknown_architectures(name: object) -> None:
    with pytest.raises(UnsafeModelFile, match="not one we know"):
        validate_architecture(name)


def test_load_weights_refuses_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="absent.safetensors does not exist"):
        load_weights(tmp_path / "absent.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 40)
    with pytest.raises(WeightsUnavailable, match="bad.safetensors is not a valid safetensors file"):
        load_weights(bad)
    bad_meta = tmp_path / "meta.safetensors"
    safetensors.torch.save_file(_state(), str(bad_meta), metadata={"tlcore": "{not json"})
    with pytest.raises(WeightsUnavailable, match="meta.safetensors: its metadata is not valid JSON"):
        load_weights(bad_meta)


# ------------------------------------------------------------------------------------------------ users' files


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin"])
def test_user_state_dict_loads(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"w{suffix}"
    torch.save(_state(), path)
    _assert_same(load_user_weights(path), _state())


def test_user_safetensors_without_our_metadata(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    safetensors.torch.save_file(_state(), str(path))
    _assert_same(load_user_weights(path), _state())


@pytest.mark.parametrize("wrap", [
    lambda sd: {"state_dict": sd, "epoch": 12, "best_acc": 0.9},
    lambda sd: {"model": sd, "optimizer": {"lr": 0.1}},
    lambda sd: {"model": {"state_dict": sd}},
    lambda sd: {f"module.{k}": v for k, v in sd.items()},
])
def test_wrapped_checkpoints_are_unwrapped(tmp_path: Path, wrap) -> None:
    path = tmp_path / "ckpt.pth"
    torch.save(wrap(_state()), path)
    _assert_same(load_user_weights(path), _state())


@pytest.mark.parametrize("payload", [_WritesMarker, _RunsShell])
def test_pickle_that_runs_code_is_refused(tmp_path: Path, payload: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": _state(), "extra": payload(marker)}, path)
    assert not marker.exists()
    with pytest.raises(UnsafeModelFile, match=r"evil\.pth holds more than plain tensors"):
        load_user_weights(path)
    assert not marker.exists()


def test_whole_pickled_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "whole_model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UnsafeModelFile, match="whole_model.pt"):
        load_user_weights(path)


def test_user_files_that_are_not_weights(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="unsupported type '.onnx'"):
        load_user_weights(tmp_path / "m.onnx")
    with pytest.raises(WeightsUnavailable, match="gone.pth does not exist"):
        load_user_weights(tmp_path / "gone.pth")
    for name, data in [("zip.pth", b"PK\x03\x04 a broken zip"), ("text.pth", b"hello, not a model"),
                       ("empty.pth", b""), ("truncated.pth", _torch_bytes(tmp_path)[:100])]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises((WeightsUnavailable, UnsafeModelFile), match=name.replace(".", r"\.")):
            load_user_weights(tmp_path / name)
    not_tensors = tmp_path / "numbers.pt"
    torch.save({"epoch": 3, "lr": 0.1}, not_tensors)
    with pytest.raises(WeightsUnavailable, match="numbers.pt does not hold a state dict"):
        load_user_weights(not_tensors)
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsUnavailable, match="list.pt does not hold a state dict"):
        load_user_weights(tmp_path / "list.pt")


def test_weights_bytes_hash_and_fit_checks(tmp_path):
    from tlcore.models.weights import check_fits, file_sha256, sha256_hex, weights_bytes

    state = _state()
    data = weights_bytes(state, {"architecture": "timm/test_resnet"})
    path = save_weights(tmp_path / "w.safetensors", state, {"architecture": "timm/test_resnet"})
    assert path.read_bytes() == data and file_sha256(path) == sha256_hex(data)
    check_fits(state, state, "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="w.safetensors does not fit .* tensor 'conv.bias' has shape \\[4\\], "
                                                 "the model needs \\[5\\]"):
        check_fits(state, {**state, "conv.bias": torch.zeros(5)}, "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="it lacks tensor 'head.weight'"):
        check_fits(state, {**state, "head.weight": torch.zeros(1)}, "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="it holds tensor 'conv.bias' the model does not have"):
        check_fits(state, {k: v for k, v in state.items() if k != "conv.bias"}, "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="tensor 'conv.weight' holds NaN or infinite values"):
        check_fits({**state, "conv.weight": torch.full((4, 3, 3, 3), float("inf"))}, state, "w.safetensors")
    with pytest.raises(WeightsUnavailable, match="cannot be read"):
        file_sha256(tmp_path / "missing.safetensors")
