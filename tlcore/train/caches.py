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
key gives a different digest, so a stale entry is never read. A fill that does not fit on the disk raises
:class:`~tlcore.errors.DiskFull` and leaves the entry as it was: no temp or new rows file, the cached rows intact
(a first fill leaves no empty entry folder).

The rows are computed by :func:`tlcore.models.inference.run_frozen` over :func:`tlcore.data.loader.batched_images`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from tlcore.atomic import atomic_write, atomic_write_json, disk_full, is_disk_full, read_json, remove_stale_temp_files
from tlcore.errors import DiskFull, TlcoreError
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 1 << 30  # entries above 1 GiB are memory-mapped from disk
_COPY_CHUNK = 1 << 26  # bytes copied at a time when an entry grows on disk
_META = "meta.json"
_LOCK = ".lock"
_LOCK_ATTEMPTS = 1000  # a lock file removed under a waiter is opened again, this many times at most


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


def cached_count(ws: Workspace, key: CacheKey, hashes: Sequence[str]) -> int:
    """How many of ``hashes`` the entry for ``key`` already holds (its ``meta.json`` is read, not its rows)."""
    try:
        cached = set(read_json(ws.cache / key.digest() / _META)["hashes"])
    except (KeyError, TypeError, ValueError, OSError):
        return 0
    return sum(1 for h in hashes if h in cached)


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
        DiskFull: the new rows do not fit on the disk; the entry is left as it was.
    """
    start = time.perf_counter()
    existing = load_rows(ws, key, memory_limit)
    index, rows = existing if existing else ({}, None)
    missing = [h for h in hashes if h not in index]
    if missing:
        folder = ws.cache / key.digest()
        with _entry_lock(folder):  # another process filling the same entry: wait, then reuse
            existing = load_rows(ws, key, memory_limit)
            index, rows = existing if existing else ({}, None)
            missing = list(dict.fromkeys(h for h in hashes if h not in index))
            if missing:
                try:
                    index, rows = _fill(ws, key, index, rows, missing, compute, memory_limit)
                except BaseException:
                    if existing is None:  # a first fill that failed leaves no empty entry behind
                        _discard_empty_entry(folder)
                    raise
    if rows is None:  # only when ``hashes`` is empty and nothing is cached yet: the rows' shape is unknown
        raise TlcoreError(f"cache entry {ws.cache / key.digest()}: no images asked for and no rows cached yet")
    positions = np.fromiter((index[h] for h in hashes), dtype=np.int64, count=len(hashes))
    row_bytes = int(np.prod(rows.shape[1:], dtype=np.int64)) * rows.itemsize
    stats = CacheStats(rows=len(hashes), computed=len(missing), nbytes=len(np.unique(positions)) * row_bytes,
                       entry_nbytes=int(rows.nbytes), memory_mapped=isinstance(rows, np.memmap),
                       seconds=time.perf_counter() - start)
    return rows, positions, stats


@contextmanager
def _entry_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache entry while it is filled (one filler at a time, across processes).

    A failed first fill removes its empty entry, lock file included, while it holds the lock; a lock then taken on
    the removed file is let go and taken again on the entry's current lock file.
    """
    for attempt in range(_LOCK_ATTEMPTS):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            f = open(folder / _LOCK, "a+b")
        except (FileNotFoundError, FileExistsError):  # the empty entry was removed meanwhile: make it again
            if attempt == _LOCK_ATTEMPTS - 1 or (os.path.lexists(folder) and not folder.is_dir()):
                raise
            continue
        with f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                if _is_current_lock(f.fileno(), folder):
                    yield
                    return
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    raise TlcoreError(f"cache entry {folder}: its lock file kept being replaced; try again")


def _is_current_lock(fd: int, folder: Path) -> bool:
    """True when the open lock file ``fd`` is still the entry's lock file (not one removed meanwhile)."""
    try:
        st = os.stat(folder / _LOCK)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _discard_empty_entry(folder: Path) -> None:
    """Remove an entry that has no rows (its lock file and folder); called with the entry's lock held."""
    if (folder / _META).exists():
        return
    (folder / _LOCK).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # something else is in it (a crashed fill's temp file): leave the folder
        pass


def remove_stale_fill_files(ws: Workspace) -> int:
    """Delete the temp files of cache fills cut short by a crash, in entries no process is filling now.

    A fill holds its entry's lock while it writes, so an entry whose lock is free at once has no write in progress;
    one being filled (by any process) is left alone. Returns how many files were removed.
    """
    removed = 0
    for entry in (e for e in ws.cache.iterdir() if (e / _LOCK).is_file()):
        try:
            f = open(entry / _LOCK, "rb")  # never "a": that would make a lock file in an entry being removed
        except FileNotFoundError:
            continue
        with f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being filled right now
            if not _is_current_lock(f.fileno(), entry):
                continue  # removed while we waited: a new filler may be using its folder
            n = remove_stale_temp_files(entry)
        if n:
            log.info("removed %d stale temp file(s) in the cache entry %s", n, entry.name)
        removed += n
    return removed


def _fill(ws: Workspace, key: CacheKey, index: dict[str, int], old: np.ndarray | None, missing: list[str],
          compute: Callable[[list[str]], Iterable[np.ndarray]], memory_limit: int
          ) -> tuple[dict[str, int], np.ndarray]:
    """Write a new version of the entry: the old rows followed by the computed ones; return its index and rows.

    Raises:
        DiskFull: the new version does not fit; its files are removed and the entry still names the old rows.
    """
    folder = ws.cache / key.digest()
    folder.mkdir(parents=True, exist_ok=True)
    n_old = len(index)
    total = n_old + len(missing)
    out: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    tmp: Path | None = None  # the memory-mapped rows being filled
    placed: Path | None = None  # the new rows file, until meta.json names it
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
                    fd, tmp_name = tempfile.mkstemp(prefix=".rows-", suffix=".npy.tmp", dir=folder)
                    os.close(fd)
                    tmp = Path(tmp_name)
                    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
                    _allocate(tmp)  # a sparse file on a full disk would kill the process (SIGBUS) when written
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
            if not isinstance(out, np.memmap):
                raise RuntimeError(f"cache fill for {folder}: the rows being written to {tmp} are not memory-mapped")
            out.flush()
            del out
            os.replace(tmp, folder / name)
            tmp, placed = None, folder / name
            rows = np.load(placed, mmap_mode="r")
        else:
            rows = out
            atomic_write(folder / name, lambda f: np.save(f, rows), rows.nbytes + 128)
            placed = folder / name
        hashes = list(index) + missing
        atomic_write_json(folder / _META, {"key": asdict(key), "file": name, "hashes": hashes,
                                           "shape": list(rows.shape), "dtype": str(rows.dtype)})
        placed = None
    except BaseException as exc:
        out = rows = None  # unmap before the files go, so their space is freed
        for p in (tmp, placed):
            if p is not None:
                p.unlink(missing_ok=True)
        tmp = None
        if is_disk_full(exc):
            raise _cache_full(ws, folder, shape, total) from exc
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    _remove_unreferenced(folder)
    return {h: i for i, h in enumerate(hashes)}, rows


def _allocate(path: Path) -> None:
    """Reserve the disk space of a file's whole length now (ENOSPC here, not SIGBUS while it is written)."""
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as e:
            if is_disk_full(e):
                raise
            log.debug("cannot reserve the space of %s ahead (%s); writing it sparse", path, e)


def _cache_full(ws: Workspace, folder: Path, shape: tuple[int, ...] | None, total: int) -> DiskFull:
    """The :class:`DiskFull` of a fill that did not fit (rows, plus the hashes that ``meta.json`` lists)."""
    needed = None
    if shape is not None:
        needed = int(np.prod(shape, dtype=np.int64)) * 4 + 128 + 70 * total + 512
    return disk_full(folder, f"filling the feature cache with {total} rows", needed,
                     undone=f"Nothing of the fill was kept; the rows cached there before are unchanged (the cache in "
                            f"{ws.cache} is safe to delete to free space).")


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

