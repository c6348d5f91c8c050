"""A full disk during import, run save and cache fill: a clear DiskFull, nothing left behind, earlier work intact.

Each test mounts a small tmpfs (needs root and permission to mount; skipped with the reason otherwise), puts a
workspace on it, fills the disk with a filler file that leaves a little room, and then asks for more than fits.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import fresh_backbone, tiny_config
from tests.synthetic import write_class_folder
from tlcore.atomic import is_disk_full
from tlcore.data import import_folder, import_path, load_dataset, load_image
from tlcore.errors import DiskFull, TlcoreError
from tlcore.runs.records import get_run, list_runs, write_run
from tlcore.train.caches import CacheKey, cache_entries, cached_rows, load_rows
from tlcore.workspace import Workspace

NO_SPACE = "No space left on device"


def _mount_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``folder``; the reason it cannot be done, or None once mounted."""
    if os.geteuid() != 0:
        return "needs root to mount a small tmpfs (run the tests as root to check the full-disk behaviour)"
    if shutil.which("mount") is None:
        return "no mount command on this machine"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"mounting a tmpfs is not permitted here ({done.stderr.strip() or done.returncode})"
    return None


@pytest.fixture
def disk(tmp_path):
    """A fresh 8 MiB tmpfs, unmounted afterwards."""
    folder = tmp_path / "disk"
    reason = _mount_tmpfs(folder, "8m")
    if reason:
        pytest.skip(reason)
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # a mapped file still open: detach


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def fill(disk: Path, room: int) -> None:
    """Grow the filler file (outside the workspace) until only ``room`` bytes are free."""
    filler = disk / "filler"
    grow = free_bytes(disk) - room
    assert grow > 0, f"only {free_bytes(disk)} bytes free, wanted to leave {room}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, os.fstat(fd).st_size, grow)
    finally:
        os.close(fd)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, with each file's content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "folder" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def noise_folder(root: Path, classes: tuple[str, ...], n: int, size: int, seed: int) -> Path:
    """``root/<class>/<i>.png`` of random noise (hardly compressible: each stored image takes ~3*size*size bytes)."""
    rng = np.random.default_rng(seed)
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / cls / f"n{i}.png")
    return root


def earlier_run(ws: Workspace, dataset_id: str = "none") -> str:
    run_id = f"20260101-000000-{uuid.uuid4().hex[:6]}"
    return write_run(ws, {"id": run_id, "created": 1.0, "dataset_id": dataset_id, "kind": "train"},
                     {"notes.bin": b"earlier run"})


def assert_message(err: DiskFull, folder: Path) -> None:
    text = str(err)
    assert NO_SPACE in text and str(folder) in text and "free" in text, text
    assert isinstance(err, TlcoreError) and isinstance(err, OSError)
    assert err.folder == folder and err.free is not None and err.free >= 0


# ---------------------------------------------------------------------------------------------------------------
# Import


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_an_import_that_fills_the_disk_is_undone(disk, tmp_path, as_zip):
    ws = Workspace(disk / "ws")
    first_src = write_class_folder(tmp_path / "first", classes=("red", "blue"), n_per_class=5, size=24)
    first, _ = import_folder(ws, first_src, name="first")
    run_id = earlier_run(ws, first.id)
    # The new import shares the first dataset's images (stored once, by content) and brings ~1 MB of new ones.
    src = tmp_path / "big"
    shutil.copytree(first_src, src)
    noise_folder(src, ("red", "blue"), n=75, size=48, seed=1)
    source: Path = src
    if as_zip:
        source = tmp_path / "big.zip"
        with zipfile.ZipFile(source, "w") as zf:
            for p in sorted(src.rglob("*.png")):
                zf.write(p, p.relative_to(src).as_posix())
    fill(disk, room=200_000)
    before = snapshot(ws.root)
    with pytest.raises(DiskFull) as info:
        import_path(ws, source, name="big")
    assert_message(info.value, ws.images)
    assert info.value.needed is not None and info.value.needed > 200_000  # an estimate of what the import needs
    assert "removed" in str(info.value)
    assert snapshot(ws.root) == before  # the newly stored images went; the first dataset's shared ones stayed
    assert free_bytes(disk) >= 190_000
    again = load_dataset(ws, first.id)
    assert again == first and all(load_image(ws, h).size == (24, 24) for h in again.hashes)
    assert get_run(ws, run_id)["dataset_id"] == first.id


def test_the_cli_reports_a_full_disk_with_exit_code_1(disk, tmp_path, capsys):
    from tlcore.cli.main import main

    ws = Workspace(disk / "ws")
    src = noise_folder(tmp_path / "big", ("a", "b"), n=40, size=48, seed=2)
    fill(disk, room=100_000)
    before = snapshot(ws.root)
    assert main(["import", str(src), "--workspace", str(ws.root)]) == 1
    err = capsys.readouterr().err
    assert NO_SPACE in err and str(ws.images) in err and "Traceback" not in err
    assert snapshot(ws.root) == before


# ---------------------------------------------------------------------------------------------------------------
# Run save


def test_a_run_that_does_not_fit_leaves_no_temp_folder(disk):
    ws = Workspace(disk / "ws")
    run_id = earlier_run(ws)
    fill(disk, room=64_000)
    before = snapshot(ws.root)
    record = {"id": "20260102-000000-abcdef", "created": 2.0, "dataset_id": "none", "kind": "train"}
    with pytest.raises(DiskFull) as info:
        write_run(ws, record, {"big.bin": os.urandom(1_000_000), "probs.npy": np.zeros(10, dtype=np.float32)})
    assert_message(info.value, ws.runs)
    assert info.value.needed is not None and info.value.needed >= 1_000_000
    assert snapshot(ws.root) == before and not any(ws.tmp.iterdir())
    assert [r.id for r in list_runs(ws)] == [run_id] and get_run(ws, run_id)["created"] == 1.0


def test_saving_a_trained_model_on_a_full_disk_keeps_the_earlier_run_loadable(disk, tmp_path):
    from tlcore.runs.store import load_run, save_run
    from tlcore.train.loop import train

    ws = Workspace(disk / "ws")
    dataset, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=6, size=20))
    result = train(ws, dataset, tiny_config(epochs=1), backbone=fresh_backbone())
    first = save_run(ws, result, dataset, label="first")
    weights = (ws.runs / first / "model.safetensors").stat().st_size
    fill(disk, room=weights // 2)
    before = snapshot(ws.root)
    with pytest.raises(DiskFull) as info:
        save_run(ws, result, dataset, label="second")
    assert_message(info.value, ws.runs)
    assert snapshot(ws.root) == before
    assert [r.id for r in list_runs(ws)] == [first]
    loaded = load_run(ws, first)
    np.testing.assert_allclose(loaded.test_probs, result.test_probs, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# Cache fill


def test_a_feature_cache_fill_that_does_not_fit_keeps_the_entry_rows(disk, tmp_path):
    from tlcore.train.loop import train

    ws = Workspace(disk / "ws")
    small_src = write_class_folder(tmp_path / "small", n_per_class=4, size=20)
    small, _ = import_folder(ws, small_src)
    large_src = tmp_path / "large"
    shutil.copytree(small_src, large_src)
    noise_folder(large_src, ("red", "green", "blue"), n=8, size=20, seed=3)  # the small dataset's images and more
    large, _ = import_folder(ws, large_src)
    assert len(large) > len(small)
    train(ws, small, tiny_config(epochs=1), backbone=fresh_backbone())
    (entry,) = cache_entries(ws)
    key = CacheKey(**entry.key)
    index, rows = load_rows(ws, key)
    rows = np.array(rows)
    fill(disk, room=4096)
    before = snapshot(ws.root)
    with pytest.raises(DiskFull) as info:
        train(ws, large, tiny_config(epochs=1), backbone=fresh_backbone())
    assert_message(info.value, ws.cache / entry.digest)
    assert info.value.needed is not None and info.value.needed > rows.nbytes
    assert snapshot(ws.root) == before
    index_after, rows_after = load_rows(ws, key)
    assert index_after == index
    np.testing.assert_array_equal(rows_after, rows)


def test_a_memory_mapped_cache_fill_that_does_not_fit_leaves_nothing(disk):
    ws = Workspace(disk / "ws")
    key = CacheKey("b", "w", 32, "pre", "pooled")
    hashes = [f"{i:064x}" for i in range(64)]
    fill(disk, room=16_384)
    before = snapshot(ws.root)

    def compute(missing):
        return (np.ones((8, 1024), dtype=np.float32) for _ in range(0, len(missing), 8))

    with pytest.raises(DiskFull) as info:  # 64 rows of 4 KiB do not fit in 16 KiB
        cached_rows(ws, key, hashes, compute, memory_limit=0)
    assert_message(info.value, ws.cache / key.digest())
    assert info.value.needed is not None and info.value.needed >= 64 * 4096
    assert snapshot(ws.root) == before  # no rows file, no temp file, no empty entry folder


# ---------------------------------------------------------------------------------------------------------------
# The same rules without a small disk (these run everywhere): a simulated ENOSPC, and other failures part-way


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, NO_SPACE)


def test_numpy_short_writes_count_as_a_full_disk():
    assert is_disk_full(OSError(errno.ENOSPC, NO_SPACE)) and is_disk_full(OSError(errno.EDQUOT, "quota"))
    assert is_disk_full(OSError("7680 requested and 992 written"))  # numpy's tofile() gives no errno
    assert not is_disk_full(OSError(errno.EACCES, "denied")) and not is_disk_full(ValueError("x"))


def test_a_simulated_full_disk_mid_import_is_undone(tmp_path, monkeypatch):
    import tlcore.data.importing.common as common

    ws = Workspace(tmp_path / "ws")
    first_src = write_class_folder(tmp_path / "first", classes=("red", "blue"), n_per_class=4, size=20)
    first, _ = import_folder(ws, first_src)
    src = tmp_path / "second"
    shutil.copytree(first_src, src)
    noise_folder(src, ("red", "blue"), n=6, size=20, seed=4)
    before = snapshot(ws.root)
    real, calls = common.store_image, []

    def store_then_fill(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs) if len(calls) < 14 else _enospc()

    monkeypatch.setattr(common, "store_image", store_then_fill)
    with pytest.raises(DiskFull, match="the 9 stored image") as info:  # 13 stored: 4 shared with "first", 9 new
        import_folder(ws, src)
    assert info.value.folder == ws.images and info.value.needed
    assert snapshot(ws.root) == before and load_dataset(ws, first.id) == first


def test_an_import_that_fails_part_way_for_another_reason_is_undone_too(tmp_path):
    from tlcore.data.limits import ImportLimits
    from tlcore.errors import DatasetError

    ws = Workspace(tmp_path / "ws")
    src = noise_folder(tmp_path / "src", ("a", "b"), n=6, size=20, seed=5)
    before = snapshot(ws.root)
    with pytest.raises(DatasetError, match="max_total_pixels"):
        import_folder(ws, src, limits=ImportLimits(max_total_pixels=20 * 20 * 7))
    assert snapshot(ws.root) == before


def test_a_rename_whose_report_does_not_fit_puts_the_old_manifest_back(tmp_path, monkeypatch):
    import tlcore.data.importing.common as common

    ws = Workspace(tmp_path / "ws")
    src = write_class_folder(tmp_path / "src", classes=("red", "blue"), n_per_class=3, size=20)
    first, _ = import_folder(ws, src, name="old name")
    before = snapshot(ws.root)
    monkeypatch.setattr(common, "save_report", _enospc)
    with pytest.raises(DiskFull, match="nothing of it was kept"):
        import_folder(ws, src, name="new name")
    assert snapshot(ws.root) == before and load_dataset(ws, first.id).name == "old name"


def test_a_failed_first_cache_fill_leaves_no_entry_and_the_next_fill_works(tmp_path):
    ws = Workspace(tmp_path / "ws")
    key = CacheKey("b", "w", 32, "pre", "pooled")
    hashes = [f"{i:064x}" for i in range(4)]
    with pytest.raises(TlcoreError, match="got 2 rows for 4"):
        cached_rows(ws, key, hashes, lambda missing: np.ones((2, 3), dtype=np.float32))
    assert not any(ws.cache.iterdir())
    rows, positions, stats = cached_rows(ws, key, hashes, lambda missing: np.ones((len(missing), 3), np.float32))
    assert stats.computed == 4 and rows[positions].shape == (4, 3)


def test_a_cache_fill_whose_meta_does_not_fit_keeps_the_old_rows(tmp_path, monkeypatch):
    import tlcore.train.caches as caches

    ws = Workspace(tmp_path / "ws")
    key = CacheKey("b", "w", 32, "pre", "pooled")
    hashes = [f"{i:064x}" for i in range(6)]
    cached_rows(ws, key, hashes[:3], lambda missing: np.ones((len(missing), 3), np.float32))
    before = snapshot(ws.root)
    monkeypatch.setattr(caches, "atomic_write_json", _enospc)
    with pytest.raises(DiskFull, match="rows cached there before are unchanged"):
        cached_rows(ws, key, hashes, lambda missing: np.zeros((len(missing), 3), np.float32))
    assert snapshot(ws.root) == before
    index, rows = load_rows(ws, key)
    assert list(index) == hashes[:3] and rows.tolist() == [[1.0] * 3] * 3


def test_disk_full_is_an_oserror_and_survives_pickling():
    import pickle

    err = DiskFull("No space left on device: x", Path("/ws/runs"), 10, 2)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and (again.folder, again.needed, again.free) == (Path("/ws/runs"), 10, 2)
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
