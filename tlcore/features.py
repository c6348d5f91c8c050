"""Feature and frozen-prefix caches: run the frozen part of a network once per image, not once per epoch.

A cache entry holds, for one key — (dataset, backbone, weights, input size, preprocessing, where the frozen part
ends, which view of the image) — one row per image content hash: the pooled features when the whole backbone is
frozen, or the activations entering the first trainable block group when only the last groups train. Entries
live in ``ws.cache/<digest>/`` as ``.npy`` files written atomically; rows missing from an entry are computed and
added. Entries larger than ``memory_limit`` bytes are memory-mapped instead of loaded, so memory stays bounded.
Any change to the key gives a different digest, so a stale entry is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from .atomic import atomic_write, atomic_write_json, read_json
from .events import CancelToken, EventCallback, ProgressTimer, ignore_event
from .workspace import Workspace

if TYPE_CHECKING:
    import torch
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 1 << 30  # entries above 1 GiB are memory-mapped from disk
FEATURE_BATCH = 32


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
    """What a fill did, for reports and the UI."""

    rows: int
    computed: int  # rows computed now (the rest were already cached)
    nbytes: int
    memory_mapped: bool
    seconds: float


def load_rows(ws: Workspace, key: CacheKey, memory_limit: int = DEFAULT_MEMORY_LIMIT
              ) -> tuple[dict[str, int], np.ndarray] | None:
    """The cached ``(hash → row index, rows)`` for ``key``, or None if nothing is cached."""
    folder = ws.cache / key.digest()
    try:
        meta = read_json(folder / "meta.json")
        index = {h: i for i, h in enumerate(meta["hashes"])}
        path = folder / meta["file"]
        mmap = path.stat().st_size > memory_limit
        rows = np.load(path, mmap_mode="r" if mmap else None)
    except (FileNotFoundError, KeyError, ValueError, json.JSONDecodeError) as exc:
        if (folder / "meta.json").exists():
            log.warning("ignoring unreadable cache entry %s: %s", folder, exc)
        return None
    if rows.shape[0] != len(index):
        log.warning("ignoring inconsistent cache entry %s", folder)
        return None
    return index, rows


def cached_rows(ws: Workspace, key: CacheKey, hashes: Sequence[str],
                compute: Callable[[list[str]], np.ndarray],
                memory_limit: int = DEFAULT_MEMORY_LIMIT) -> tuple[np.ndarray, np.ndarray, CacheStats]:
    """The cache entry's rows and, for each of ``hashes``, its row position; computes what is missing.

    Rows are returned whole (memory-mapped when large) with positions rather than gathered, so a large entry is
    never copied into memory: read ``rows[positions[i]]`` batch by batch.

    Args:
        ws: the workspace whose ``cache/`` folder holds the entries.
        key: what the rows depend on.
        hashes: image content hashes; duplicates are fine and computed once.
        compute: maps a list of unique hashes to an array with one row per hash.
        memory_limit: entries larger than this are returned memory-mapped.
    """
    start = time.perf_counter()
    existing = load_rows(ws, key, memory_limit)
    index, rows = existing if existing else ({}, None)
    missing = list(dict.fromkeys(h for h in hashes if h not in index))
    if missing:
        new_rows = np.ascontiguousarray(compute(missing), dtype=np.float32)
        all_hashes = list(index) + missing
        combined = new_rows if rows is None else np.concatenate([np.asarray(rows), new_rows])
        _store(ws, key, all_hashes, combined)
        index = {h: i for i, h in enumerate(all_hashes)}
        mmap = combined.nbytes > memory_limit
        rows = np.load(ws.cache / key.digest() / "rows.npy", mmap_mode="r") if mmap else combined
        del combined
    assert rows is not None
    positions = np.fromiter((index[h] for h in hashes), dtype=np.int64, count=len(hashes))
    stats = CacheStats(rows=len(hashes), computed=len(missing), nbytes=int(rows.nbytes),
                       memory_mapped=isinstance(rows, np.memmap), seconds=time.perf_counter() - start)
    return rows, positions, stats


def _store(ws: Workspace, key: CacheKey, hashes: list[str], rows: np.ndarray) -> None:
    folder = ws.cache / key.digest()
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "rows.npy", lambda f: np.save(f, rows))
    atomic_write_json(folder / "meta.json", {"key": asdict(key), "file": "rows.npy", "hashes": hashes,
                                             "shape": list(rows.shape), "dtype": str(rows.dtype)})


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


def batched_images(ws: Workspace, hashes: Sequence[str], transform: Callable[["Image.Image"], "torch.Tensor"],
                   batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None,
                   prefetch: int = 2) -> Iterator["torch.Tensor"]:
    """Load and transform images in a background thread, yielding stacked batches in order.

    Decoding overlaps with the model's compute (``prefetch`` batches ahead). With ``seeds``, the torch RNG is
    seeded per image before its transform, so random augmentations don't depend on batching or order; pass
    ``prefetch=0`` then if the caller draws random numbers meanwhile (dropout), since the RNG is global.
    """
    import torch

    from .data import load_image

    def make_batch(chunk: Sequence[str], chunk_seeds: Sequence[int] | None) -> "torch.Tensor":
        if chunk_seeds is None:
            return torch.stack([transform(load_image(ws, h)) for h in chunk])
        with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is left as it was
            tensors = []
            for h, seed in zip(chunk, chunk_seeds):
                torch.manual_seed(int(seed))
                tensors.append(transform(load_image(ws, h)))
        return torch.stack(tensors)

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


def run_frozen(module: "torch.nn.Module", ws: Workspace, hashes: list[str],
               transform: Callable[["Image.Image"], "torch.Tensor"], phase: str,
               on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
               batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None) -> np.ndarray:
    """Run a frozen ``module`` over stored images once, in eval and inference mode; one float32 row per image."""
    import torch

    was_training = module.training
    module.eval()
    timer = ProgressTimer(phase, len(hashes), on_event)
    out: list[np.ndarray] = []
    done = 0
    try:
        with torch.inference_mode():
            for batch in batched_images(ws, hashes, transform, batch_size, seeds):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                y = module(batch.contiguous(memory_format=torch.channels_last))
                out.append(y.float().contiguous().numpy().copy())
                done += len(batch)
                timer.update(done)
    finally:
        module.train(was_training)
    timer.update(done, force=True)
    return np.concatenate(out) if out else np.zeros((0,), dtype=np.float32)
