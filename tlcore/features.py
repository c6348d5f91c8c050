"""Feature and frozen-prefix caches: run the frozen part of a network once per image, not once per epoch.

A cache entry holds, for one key — (backbone, weights, input size, preprocessing, where the frozen part ends,
which view of the image) — one row per image content hash: the pooled features when the whole backbone is
frozen, or the activations entering the first trainable block group when only the last groups train. Rows are
keyed by image content, not by dataset, so every run, cross-validation fold, head setting, strategy comparison
and data-efficiency point over the same images shares one entry. Entries live in ``ws.cache/<digest>/``: a
``rows-<token>.npy`` file and ``meta.json`` naming it, both written atomically; rows missing from an entry are
computed and added. A fill holds a lock on its entry, so two processes never compute the same rows at once: the
second waits and reuses them. Memory stays bounded: an entry larger than ``memory_limit`` bytes is filled
straight into a memory-mapped file and read back memory-mapped, never held whole in memory. Any change to the
key gives a different digest, so a stale entry is never read.

Images reach the network through :func:`batched_images`: decoding and the per-image PIL steps of the transform
run in a background thread (no torch work there, so it never competes with the model's OpenMP threads), and
the conversion to normalised float happens once per batch, giving a channels-last batch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import queue
import secrets
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .atomic import atomic_write, atomic_write_json, read_json, remove_stale_temp_files
from .errors import TlcoreError
from .events import CancelToken, EventCallback, ProgressTimer, ignore_event
from .workspace import Workspace

if TYPE_CHECKING:
    import torch
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 1 << 30  # entries above 1 GiB are memory-mapped from disk
# Images per forward pass of a frozen network. Measured on 2 cores at 224 px with EfficientNet-Lite0, stored
# images to features, batch sizes in alternating rounds: 16 → 52.5, 32 → 57.5, 48 → 60.8 images/s, with a peak
# RSS of about 1.05, 1.35 and (at 64) 1.95 GB for inference alone. 32 is the trade; without the malloc tuning
# (tlcore/_alloc.py) smaller batches would be faster.
FEATURE_BATCH = 32
_COPY_CHUNK = 1 << 26  # bytes copied at a time when an entry grows on disk
_META = "meta.json"
_LOCK = ".lock"


@dataclass(frozen=True)
class CacheKey:
    """Everything the cached rows depend on. Change any field and the cache is refilled."""

    backbone: str
    weights: str  # identity of the weights: source and, for a file, its content hash
    input_size: int
    preprocessing: str  # the data config (mean, std, interpolation, crop) as text
    boundary: str  # "pooled" (whole backbone) or "stage-<b>" (input of stage b)
    view: str = "eval"  # "eval", or "aug-<i>/<augment>/<seed>" for one view of the augmentation bank

    def digest(self) -> str:
        """A short stable name for the entry's folder."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CacheStats:
    """What one :func:`cached_rows` call did, for reports and the UI."""

    rows: int  # rows asked for (duplicates included)
    computed: int  # rows computed now (the rest were already cached)
    nbytes: int  # bytes of the distinct rows asked for
    entry_nbytes: int  # bytes of the whole entry (it may hold rows of other datasets' images too)
    memory_mapped: bool  # the entry is read from disk on demand rather than held in memory
    seconds: float


@dataclass(frozen=True)
class CacheEntry:
    """One entry of a workspace's cache, as listed by :func:`cache_entries`."""

    digest: str
    key: dict[str, Any]
    rows: int
    row_shape: tuple[int, ...]
    nbytes: int  # bytes on disk
    modified: float  # Unix time of the last fill


# ---------------------------------------------------------------------------------------------------------------
# Reading and filling entries


def load_rows(ws: Workspace, key: CacheKey, memory_limit: int = DEFAULT_MEMORY_LIMIT
              ) -> tuple[dict[str, int], np.ndarray] | None:
    """The cached ``(hash → row index, rows)`` for ``key``, or None if nothing usable is cached.

    Rows are memory-mapped read-only when the entry's file is larger than ``memory_limit``, loaded otherwise.
    """
    folder = ws.cache / key.digest()
    try:
        meta = read_json(folder / _META)
        index = {h: i for i, h in enumerate(meta["hashes"])}
        path = folder / Path(meta["file"]).name
        mmap = path.stat().st_size > memory_limit
        rows = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (KeyError, TypeError, ValueError, EOFError, OSError) as exc:
        if (folder / _META).exists():
            log.warning("ignoring unreadable cache entry %s: %s", folder, exc)
        return None
    if rows.shape[0] != len(index) or rows.dtype != np.float32:
        log.warning("ignoring inconsistent cache entry %s (%s rows of %s for %d hashes)", folder, rows.shape[0],
                    rows.dtype, len(index))
        return None
    return index, rows


def cached_rows(ws: Workspace, key: CacheKey, hashes: Sequence[str],
                compute: Callable[[list[str]], Iterable[np.ndarray]],
                memory_limit: int = DEFAULT_MEMORY_LIMIT) -> tuple[np.ndarray, np.ndarray, CacheStats]:
    """The cache entry's rows and, for each of ``hashes``, its row position; computes what is missing.

    Rows are returned whole (memory-mapped when large) with positions rather than gathered, so a large entry is
    never copied into memory: read ``rows[positions[i]]`` batch by batch.

    Args:
        ws: the workspace whose ``cache/`` folder holds the entries.
        key: what the rows depend on.
        hashes: image content hashes; duplicates are fine and computed once.
        compute: maps a list of unique hashes to batches of rows (arrays with a leading batch axis), in order,
            one row per hash in all. A single array with one row per hash works too.
        memory_limit: entries larger than this are filled into, and returned as, a memory-mapped file.

    Raises:
        TlcoreError: if ``compute`` gives a different number of rows than it was asked for.
    """
    start = time.perf_counter()
    existing = load_rows(ws, key, memory_limit)
    index, rows = existing if existing else ({}, None)
    missing = [h for h in hashes if h not in index]
    if missing:
        with _entry_lock(ws.cache / key.digest()):  # another process filling the same entry: wait, then reuse
            existing = load_rows(ws, key, memory_limit)
            index, rows = existing if existing else ({}, None)
            missing = list(dict.fromkeys(h for h in hashes if h not in index))
            if missing:
                index, rows = _fill(ws, key, index, rows, missing, compute, memory_limit)
    assert rows is not None
    positions = np.fromiter((index[h] for h in hashes), dtype=np.int64, count=len(hashes))
    row_bytes = int(np.prod(rows.shape[1:], dtype=np.int64)) * rows.itemsize
    stats = CacheStats(rows=len(hashes), computed=len(missing), nbytes=len(np.unique(positions)) * row_bytes,
                       entry_nbytes=int(rows.nbytes), memory_mapped=isinstance(rows, np.memmap),
                       seconds=time.perf_counter() - start)
    return rows, positions, stats


@contextmanager
def _entry_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache entry while it is filled (one filler at a time, across processes)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def remove_stale_fill_files(ws: Workspace) -> int:
    """Delete the temp files of cache fills cut short by a crash, in entries no process is filling now.

    A fill holds its entry's lock while it writes, so an entry whose lock is free at once has no write in progress;
    one being filled (by any process) is left alone. Returns how many files were removed.
    """
    removed = 0
    for entry in (e for e in ws.cache.iterdir() if (e / _LOCK).is_file()):
        with open(entry / _LOCK, "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being filled right now
            n = remove_stale_temp_files(entry)
        if n:
            log.info("removed %d stale temp file(s) in the cache entry %s", n, entry.name)
        removed += n
    return removed


def _fill(ws: Workspace, key: CacheKey, index: dict[str, int], old: np.ndarray | None, missing: list[str],
          compute: Callable[[list[str]], Iterable[np.ndarray]], memory_limit: int
          ) -> tuple[dict[str, int], np.ndarray]:
    """Write a new version of the entry: the old rows followed by the computed ones; return its index and rows."""
    folder = ws.cache / key.digest()
    folder.mkdir(parents=True, exist_ok=True)
    n_old = len(index)
    total = n_old + len(missing)
    out: np.ndarray | None = None
    tmp: Path | None = None
    done = 0
    try:
        batches = compute(missing)
        if isinstance(batches, np.ndarray):
            batches = [batches]
        for batch in batches:
            batch = np.asarray(batch, dtype=np.float32)
            if out is None:
                if old is not None and old.shape[1:] != batch.shape[1:]:
                    log.warning("cache entry %s has rows of shape %s, new rows are %s: starting it afresh", folder,
                                old.shape[1:], batch.shape[1:])
                    index, old, n_old, total = {}, None, 0, len(missing)
                shape = (total, *batch.shape[1:])
                if int(np.prod(shape, dtype=np.int64)) * 4 > memory_limit:
                    fd, name = tempfile.mkstemp(prefix=".rows-", suffix=".npy.tmp", dir=folder)
                    os.close(fd)
                    tmp = Path(name)
                    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
                else:
                    out = np.empty(shape, dtype=np.float32)
                if old is not None:
                    step = max(1, _COPY_CHUNK // max(1, old[:1].nbytes))
                    for i in range(0, n_old, step):
                        end = min(i + step, n_old)
                        out[i:end] = old[i:end]
            if n_old + done + len(batch) > total:
                raise TlcoreError(f"cache fill for {folder}: got more rows than the {len(missing)} images asked for")
            out[n_old + done:n_old + done + len(batch)] = batch
            done += len(batch)
        if out is None or done != len(missing):
            raise TlcoreError(f"cache fill for {folder}: got {done} rows for {len(missing)} images")
        name = f"rows-{secrets.token_hex(6)}.npy"
        if tmp is not None:
            assert isinstance(out, np.memmap)
            out.flush()
            del out
            os.replace(tmp, folder / name)
            tmp = None
            rows = np.load(folder / name, mmap_mode="r")
        else:
            rows = out
            atomic_write(folder / name, lambda f: np.save(f, rows))
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    hashes = list(index) + missing
    atomic_write_json(folder / _META, {"key": asdict(key), "file": name, "hashes": hashes,
                                       "shape": list(rows.shape), "dtype": str(rows.dtype)})
    _remove_unreferenced(folder)
    return {h: i for i, h in enumerate(hashes)}, rows


def _remove_unreferenced(folder: Path) -> None:
    """Delete the entry's older rows files (readers that mapped one keep it until they close it)."""
    try:
        current = Path(read_json(folder / _META)["file"]).name
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return
    for p in folder.glob("rows*.npy"):
        if p.name != current:
            p.unlink(missing_ok=True)


def cache_entries(ws: Workspace) -> list[CacheEntry]:
    """Every readable cache entry in the workspace, most recently filled first (for a cache panel)."""
    entries = []
    for folder in Path(ws.cache).iterdir() if Path(ws.cache).is_dir() else ():
        try:
            meta = read_json(folder / _META)
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            entries.append(CacheEntry(digest=folder.name, key=dict(meta["key"]), rows=len(meta["hashes"]),
                                      row_shape=tuple(meta["shape"][1:]), nbytes=size,
                                      modified=(folder / _META).stat().st_mtime))
        except (FileNotFoundError, NotADirectoryError, KeyError, TypeError, ValueError) as exc:
            log.debug("skipping cache folder %s: %s", folder, exc)
    return sorted(entries, key=lambda e: e.modified, reverse=True)


def cache_usage(ws: Workspace) -> int:
    """Bytes used by all cache entries in the workspace."""
    return sum(p.stat().st_size for p in Path(ws.cache).rglob("*") if p.is_file())


def clear_cache(ws: Workspace) -> int:
    """Delete every cache entry; return the bytes freed. Caches are always safe to delete."""
    freed = 0
    for folder in Path(ws.cache).iterdir():
        if folder.is_dir():
            for p in folder.iterdir():
                freed += p.stat().st_size
                p.unlink()
            folder.rmdir()
    return freed


# ---------------------------------------------------------------------------------------------------------------
# Images in, batches out


@dataclass(frozen=True)
class SplitTransform:
    """A transform taken apart: per-image PIL steps, then one uint8 → normalised float conversion per batch."""

    pil: Callable[["Image.Image"], "Image.Image"]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def split_transform(transform: Callable[["Image.Image"], "torch.Tensor"]) -> SplitTransform | None:
    """Split ``Compose([...PIL steps, PILToTensor(), ToDtype(float32, scale=True), Normalize(mean, std)])``.

    Every transform of :mod:`tlcore.augment` has that shape. Returns None for any other transform, which is then
    applied per image as it is. :func:`to_float_batch` on the stacked PIL results gives exactly the numbers the
    whole transform gives image by image.
    """
    import torch
    from torchvision.transforms import v2

    steps = getattr(transform, "transforms", None)
    if not isinstance(transform, v2.Compose) or not isinstance(steps, list) or len(steps) < 3:
        return None
    to_tensor, to_dtype, normalize = steps[-3:]
    if not (type(to_tensor) is v2.PILToTensor and type(to_dtype) is v2.ToDtype and type(normalize) is v2.Normalize):
        return None
    if to_dtype.dtype is not torch.float32 or not to_dtype.scale:
        return None
    pil_steps = steps[:-3]
    if any(not isinstance(s, v2.Transform) for s in pil_steps):
        return None
    return SplitTransform(v2.Compose(pil_steps), tuple(float(m) for m in normalize.mean),
                          tuple(float(s) for s in normalize.std))


def to_float_batch(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> "torch.Tensor":
    """``(N, H, W, 3)`` uint8 → normalised float32 ``(N, 3, H, W)`` in channels-last memory format.

    The same float32 arithmetic, element by element, as ``PILToTensor → ToDtype(float32, scale=True) → Normalize``
    (scale by 1/255, subtract the mean, divide by the std), so the numbers are bit for bit the same. It runs in
    NumPy, on one thread and without torch's thread pool: the image loader thread calls it while the model
    computes, and it is twice as fast as the same steps in torch on 2 threads.
    """
    import torch

    n, h, w, c = images.shape
    out = np.empty(images.shape, dtype=np.float32)
    rows = out.reshape(n * h, w * c)  # a mean and std per channel, tiled along a row: long inner loops
    np.multiply(images.reshape(n * h, w * c), np.float32(1 / 255), out=rows, dtype=np.float32)
    rows -= np.tile(np.asarray(mean, dtype=np.float32), w)
    rows /= np.tile(np.asarray(std, dtype=np.float32), w)
    return torch.from_numpy(out).permute(0, 3, 1, 2)  # keeps the channels-last strides


def _as_rgb_array(image: "Image.Image") -> np.ndarray:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def batched_images(ws: Workspace, hashes: Sequence[str], transform: Callable[["Image.Image"], "torch.Tensor"],
                   batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None,
                   prefetch: int = 2) -> Iterator["torch.Tensor"]:
    """Load and transform stored images, yielding normalised float batches in order.

    Decoding, the transform's PIL steps and the conversion to float (once per batch) run in a background thread
    (``prefetch`` batches ahead; 0 = in the caller's thread), overlapping with the model's compute, so the
    caller's thread only runs the model. With ``seeds``, the torch RNG is seeded per image before its transform, so
    random augmentations depend neither on batching nor on order, and the caller's RNG stream is left as it was;
    pass ``prefetch=0`` then if the caller draws random numbers meanwhile (dropout), since the RNG is global.
    """
    import torch

    from .data import load_image

    split = split_transform(transform)

    def one(h: str) -> Any:
        image = load_image(ws, h)
        return _as_rgb_array(split.pil(image)) if split is not None else transform(image)

    def make_batch(chunk: Sequence[str], chunk_seeds: Sequence[int] | None) -> Any:
        if chunk_seeds is None:
            items = [one(h) for h in chunk]
        else:
            with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is left as it was
                items = []
                for h, seed in zip(chunk, chunk_seeds):
                    torch.manual_seed(int(seed))
                    items.append(one(h))
        if split is None:
            return torch.stack(items)
        return to_float_batch(np.stack(items), split.mean, split.std)

    chunks = [(hashes[i:i + batch_size], None if seeds is None else seeds[i:i + batch_size])
              for i in range(0, len(hashes), batch_size)]
    if prefetch <= 0 or len(chunks) <= 1:
        for chunk, chunk_seeds in chunks:
            yield make_batch(chunk, chunk_seeds)
        return
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk, chunk_seeds in chunks:
                if stop.is_set():
                    return
                q.put(("ok", make_batch(chunk, chunk_seeds)))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(("error", exc))
            return
        q.put(("end", None))

    thread = threading.Thread(target=produce, name="tlcore-image-loader", daemon=True)
    thread.start()
    try:
        while True:
            status, item = q.get()
            if status == "end":
                return
            if status == "error":
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


# ---------------------------------------------------------------------------------------------------------------
# Running the frozen part


def iter_frozen(module: "torch.nn.Module", ws: Workspace, hashes: Sequence[str],
                transform: Callable[["Image.Image"], "torch.Tensor"], phase: str,
                on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
                batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Run a frozen ``module`` over stored images in eval and inference mode, yielding float32 row batches.

    Progress goes to ``on_event`` under ``phase``; ``cancel`` is checked before every batch.
    """
    import torch

    was_training = module.training
    module.eval()
    timer = ProgressTimer(phase, len(hashes), on_event)
    done = 0
    try:
        for batch in batched_images(ws, hashes, transform, batch_size, seeds):
            if cancel is not None:
                cancel.raise_if_cancelled()
            with torch.inference_mode():  # entered per batch: a grad mode must not leak to the caller at a yield
                y = module(batch.contiguous(memory_format=torch.channels_last)).float().contiguous()
            done += len(batch)
            timer.update(done)
            yield y.numpy()
    finally:
        module.train(was_training)
    timer.update(done, force=True)


def run_frozen(module: "torch.nn.Module", ws: Workspace, hashes: Sequence[str],
               transform: Callable[["Image.Image"], "torch.Tensor"], phase: str,
               on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
               batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None) -> np.ndarray:
    """Run a frozen ``module`` over stored images once, in eval and inference mode; one float32 row per image."""
    out = list(iter_frozen(module, ws, hashes, transform, phase, on_event, cancel, batch_size, seeds))
    return np.concatenate(out) if out else np.zeros((0,), dtype=np.float32)
