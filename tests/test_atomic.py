"""Atomic writes: a write that fails halfway (a full disk, a crash) leaves the previous version intact."""

from __future__ import annotations

import errno

import pytest

from tlcore.atomic import atomic_write, atomic_write_json, read_json, remove_stale_temp_files


def test_a_failed_write_keeps_the_previous_version_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "status.json"
    atomic_write_json(target, {"version": 1})

    def disk_full(f):
        f.write(b'{"version": 2, "trunc')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, disk_full)
    assert read_json(target) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_weights_survive_a_failed_overwrite(tmp_path):
    import torch

    from tlcore.models.weights import load_weights, save_weights

    path = tmp_path / "model.safetensors"
    save_weights(path, {"w": torch.ones(3)}, {"architecture": "efficientnet_lite0"})

    class Exploding(dict):
        def items(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        save_weights(path, Exploding(w=torch.zeros(3)), {"architecture": "efficientnet_lite0"})
    state, meta = load_weights(path)
    assert torch.equal(state["w"], torch.ones(3)) and meta["architecture"] == "efficientnet_lite0"


def test_stale_temp_files_from_a_crash_are_removed(tmp_path):
    (tmp_path / "a").mkdir()
    stale = tmp_path / "a" / ".run.json.x1y2.tmp"
    stale.write_text("half")
    keep = tmp_path / "a" / "run.json"
    keep.write_text("{}")
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stale.exists() and keep.exists()
