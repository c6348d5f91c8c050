"""The run index: one SQLite row per run, what a table of runs shows, kept beside the run folders.

The folders are the truth and the index a summary of them. Writers keep it in step (:func:`index_record` after
a run folder is renamed into place, :func:`unindex` after a delete); readers open it read-only and never repair
it (:func:`tlcore.runs.records.list_runs` fills any gap from the folders in memory); the repair that writes is
:func:`tlcore.runs.records.repair_index`, run at start-up, on request, and by a writer that finds the index
unreadable. Each row keeps the size and modification time of its ``run.json`` (``stamp``): a row whose file has
changed since is not trusted, and the run is read from its folder again. Rows with values of the wrong type are
ignored the same way.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import closing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from tlcore.workspace import Workspace


@dataclass(frozen=True)
class RunInfo:
    """One row of the run index: what a table of runs shows."""

    id: str
    created: float
    kind: str  # "train"; cross-validation and comparisons record their own kinds
    label: str
    dataset_id: str
    dataset_name: str
    backbone: str
    strategy: str
    test_accuracy: float | None
    test_balanced_accuracy: float | None
    test_macro_f1: float | None
    val_accuracy: float | None
    seconds: float
    epochs: int
    cache_mode: str
    damaged: str = ""  # why the run cannot be used ("" for a readable run); damaged runs have kind "damaged"


COLUMNS = tuple(f.name for f in fields(RunInfo) if f.name != "damaged")  # what an index row holds, plus its stamp
_TABLE_COLUMNS = (*COLUMNS, "stamp")
_SCHEMA = "CREATE TABLE IF NOT EXISTS runs ({})".format(
    ", ".join(c + (" TEXT PRIMARY KEY" if c == "id" else "") for c in _TABLE_COLUMNS))
_INSERT = f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(_TABLE_COLUMNS))})"
_TEXT = {"id", "kind", "label", "dataset_id", "dataset_name", "backbone", "strategy", "cache_mode"}
_OPTIONAL = {"test_accuracy", "test_balanced_accuracy", "test_macro_f1", "val_accuracy"}


class IndexUnusable(Exception):
    """The index file cannot be written as it is (not a database, another schema); it should be rebuilt."""


def damaged_info(run_id: str, created: float, reason: str) -> RunInfo:
    """The row a table of runs shows for a damaged run: its id, a time, kind ``damaged`` and the reason."""
    return RunInfo(run_id, created, "damaged", "", "", "", "", "", None, None, None, None, 0.0, 0, "", reason)


def info_from_record(record: dict[str, Any]) -> RunInfo:
    """The index row of a run record.

    Raises:
        KeyError: when the record lacks ``id``, ``created`` or ``dataset_id``.
    """
    test, val = record.get("test_metrics") or {}, record.get("val_metrics") or {}
    return RunInfo(record["id"], record["created"], record.get("kind") or "train", record.get("label") or "",
                   record["dataset_id"], record.get("dataset_name") or "", record.get("backbone") or "",
                   record.get("strategy") or "", test.get("accuracy"), test.get("balanced_accuracy"),
                   test.get("macro_f1"), val.get("accuracy"), (record.get("timings") or {}).get("total", 0.0),
                   len(record.get("history") or []), record.get("cache_mode") or "")


def _connect(ws: Workspace) -> sqlite3.Connection:
    """A connection for writing; :class:`IndexUnusable` when the file is no index of this schema."""
    try:
        con = sqlite3.connect(ws.index_db, timeout=30)
    except sqlite3.Error as e:
        raise IndexUnusable(f"{ws.index_db} cannot be opened ({e})") from e
    try:
        con.execute(_SCHEMA)
        columns = tuple(row[1] for row in con.execute("PRAGMA table_info(runs)"))
    except sqlite3.OperationalError as e:
        con.close()
        if _busy(e):
            raise
        raise IndexUnusable(f"{ws.index_db} is not a run index ({e})") from e
    except sqlite3.DatabaseError as e:
        con.close()
        raise IndexUnusable(f"{ws.index_db} is not a run index ({e})") from e
    if columns != _TABLE_COLUMNS:
        con.close()
        raise IndexUnusable(f"{ws.index_db} has other columns than this version's run index")
    return con


def _busy(e: sqlite3.OperationalError) -> bool:
    return "locked" in str(e) or "busy" in str(e)


def _values(info: RunInfo, stamp: str) -> tuple:
    return (*(getattr(info, c) for c in COLUMNS), stamp)


def index_record(ws: Workspace, record: dict[str, Any], stamp: str) -> None:
    """Add (or replace) the row of one run; ``stamp`` is :func:`file_stamp` of its ``run.json``."""
    with closing(_connect(ws)) as con, con:
        con.execute(_INSERT, _values(info_from_record(record), stamp))


def unindex(ws: Workspace, run_id: str) -> None:
    """Remove the row of one run."""
    with closing(_connect(ws)) as con, con:
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def read_index(ws: Workspace) -> dict[str, tuple[RunInfo, str]] | None:
    """Every well-formed row as ``(info, stamp)`` by run id, read without writing anything; None when there is no
    readable index (missing, not a database, another schema)."""
    if not ws.index_db.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{ws.index_db}?mode=ro", uri=True, timeout=30)) as con:
            rows = con.execute(f"SELECT {', '.join(_TABLE_COLUMNS)} FROM runs").fetchall()
    except sqlite3.Error:
        return None
    return {row[0]: (RunInfo(*row[:-1]), row[-1]) for row in rows if _well_formed(row)}


def _well_formed(row: tuple) -> bool:
    for name, value in zip(_TABLE_COLUMNS, row):
        if name in _TEXT or name == "stamp":
            ok = isinstance(value, str)
        elif name == "epochs":
            ok = isinstance(value, int)
        else:
            ok = (value is None and name in _OPTIONAL) or (isinstance(value, (int, float)) and value == value)
        if not ok:
            return False
    return True


def replace_rows(ws: Workspace, keep: set[str], add: Iterable[tuple[RunInfo, str]]) -> None:
    """Drop every row whose id is not in ``keep``, then add ``add`` (``(info, stamp)`` pairs): the repair's write."""
    with closing(_connect(ws)) as con, con:
        for (run_id,) in con.execute("SELECT id FROM runs").fetchall():
            if run_id not in keep:
                con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        con.executemany(_INSERT, [_values(info, stamp) for info, stamp in add])


def file_stamp(path: Path) -> str | None:
    """``"<size>:<mtime_ns>"`` of a regular file, or None when ``path`` is not one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}" if stat.S_ISREG(st.st_mode) else None
