"""Feature and prefix caches (tlcore.train.caches): fills, reuse, invalidation, bounded memory, locking."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from tlcore.errors import Cancelled, TlcoreError
from tlcore.train.caches import CacheKey, cache_entries, cache_usage, cached_rows, clear_cache, load_rows

KEY = CacheKey("b", "w", 32, "pre", "pooled")


def rows_for(hashes: list[str], width: int = 3) -> np.ndarray:
    """Deterministic fake rows: each hash's row is derived from the hash itself."""
    return np.stack([np.full(width, int(h[:6], 16) % 1000, dtype=np.float32) for h in hashes])


class Compute:
    """A ``compute`` callable that records what it was asked for and yields rows in batches of ``batch``."""

    def __init__(self, width: int = 3, batch: int = 4) -> None:
        self.calls: list[list[str]] = []
        self.width, self.batch = width, batch

    def __call__(self, missing: list[str]):
        self.calls.append(list(missing))
        rows = rows_for(missing, self.width)
        return (rows[i:i + self.batch] for i in range(0, len(rows), self.batch))


HASHES = [f"{i:02x}" * 32 for i in range(1, 11)]


def test_rows_are_computed_once_then_read_back(ws):
    compute = Compute()
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:6], compute)
    assert compute.calls == [HASHES[:6]] and stats.computed == 6
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:6]))
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:6], compute)
    assert len(compute.calls) == 1 and stats.computed == 0
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:6]))
    assert stats.nbytes == 6 * 3 * 4 and not stats.memory_mapped


def test_only_missing_rows_are_added_and_duplicates_computed_once(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:4], compute)
    asked = HASHES[2:8] + HASHES[2:4]
    rows, pos, stats = cached_rows(ws, KEY, asked, compute)
    assert compute.calls[1] == HASHES[4:8]
    assert stats.rows == 8 and stats.computed == 4 and stats.nbytes == 6 * 3 * 4 and stats.entry_nbytes == 8 * 12
    np.testing.assert_array_equal(rows[pos], rows_for(asked))
    assert len(list((ws.cache / KEY.digest()).glob("rows*.npy"))) == 1  # the older version was removed


def test_a_changed_key_is_a_separate_entry(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:3], compute)
    for change in ({"input_size": 40}, {"weights": "other"}, {"preprocessing": "p2"}, {"boundary": "stage-3"},
                   {"view": "aug-0/x/0"}, {"backbone": "c"}):
        key = replace(KEY, **change)
        assert key.digest() != KEY.digest()
        _, _, stats = cached_rows(ws, key, HASHES[:3], compute)
        assert stats.computed == 3
    assert len(compute.calls) == 7
    assert len(cache_entries(ws)) == 7


def test_large_entries_are_filled_and_read_memory_mapped(ws):
    compute = Compute(width=64, batch=3)
    limit = 5 * 64 * 4  # five rows fit in memory
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:8], compute, memory_limit=limit)
    assert stats.memory_mapped and isinstance(rows, np.memmap)
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:8], 64))
    rows, pos, stats = cached_rows(ws, KEY, HASHES, compute, memory_limit=limit)  # grows on disk
    assert stats.memory_mapped and stats.computed == 2
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES, 64))
    index, again = load_rows(ws, KEY, memory_limit=limit)
    assert isinstance(again, np.memmap) and len(index) == 10
    index, in_memory = load_rows(ws, KEY)
    assert not isinstance(in_memory, np.memmap)
    assert not list((ws.cache / KEY.digest()).glob(".*tmp"))


def test_a_failed_fill_keeps_the_previous_entry_and_leaves_no_temp_files(ws):
    cached_rows(ws, KEY, HASHES[:3], Compute())

    def cancelled(missing):
        yield rows_for(missing[:1])
        raise Cancelled("cancelled by the user")

    for limit in (1 << 30, 8):  # in memory and memory-mapped
        with pytest.raises(Cancelled):
            cached_rows(ws, KEY, HASHES[:6], cancelled, memory_limit=limit)
        index, rows = load_rows(ws, KEY)
        assert list(index) == HASHES[:3]
        np.testing.assert_array_equal(rows, rows_for(HASHES[:3]))
        names = sorted(p.name for p in (ws.cache / KEY.digest()).iterdir() if p.name != ".lock")
        assert len(names) == 2 and names[0] == "meta.json" and names[1].startswith("rows-")  # no temp file left


def test_a_second_filler_waits_for_the_first_and_reuses_its_rows(ws):
    started, release = threading.Event(), threading.Event()
    slow, fast = Compute(), Compute()

    def slow_compute(missing):
        started.set()
        assert release.wait(30)
        return slow(missing)

    first = threading.Thread(target=cached_rows, args=(ws, KEY, HASHES[:5], slow_compute))
    first.start()
    assert started.wait(30)
    second_result = []
    second = threading.Thread(target=lambda: second_result.append(cached_rows(ws, KEY, HASHES[:5], fast)))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the entry's lock, not computing the same rows again
    release.set()
    first.join(30)
    second.join(30)
    assert slow.calls == [HASHES[:5]] and fast.calls == []
    rows, pos, stats = second_result[0]
    assert stats.computed == 0
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:5]))


def test_a_compute_that_returns_the_wrong_number_of_rows_is_refused(ws):
    with pytest.raises(TlcoreError, match="got 2 rows for 3 images"):
        cached_rows(ws, KEY, HASHES[:3], lambda missing: rows_for(missing[:2]))
    with pytest.raises(TlcoreError, match="more rows"):
        cached_rows(ws, KEY, HASHES[:3], lambda missing: [rows_for(missing), rows_for(missing)])
    assert load_rows(ws, KEY) is None


def test_an_unreadable_entry_is_ignored_and_refilled(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:3], compute)
    (ws.cache / KEY.digest() / "meta.json").write_text("{broken")
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:3], compute)
    assert stats.computed == 3
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:3]))


def test_entries_are_listed_measured_and_cleared(ws):
    cached_rows(ws, KEY, HASHES[:4], Compute(width=5))
    (entry,) = cache_entries(ws)
    assert entry.key["boundary"] == "pooled" and entry.rows == 4 and entry.row_shape == (5,)
    assert entry.nbytes == cache_usage(ws) > 4 * 5 * 4
    assert clear_cache(ws) == entry.nbytes
    assert cache_entries(ws) == [] and cache_usage(ws) == 0
