"""The run index: one SQLite row per run, what a table of runs shows, kept beside the run folders.

The folders are the truth and the index a summary of them. Writers keep it in step (:func:`index_record` after
a run folder is renamed into place, :func:`unindex` after a delete); readers open it read-only and never repair
it (:func:`tlcore.runs.records.list_runs` fills any gap from the folders in memory); the repair that writes is
:func:`tlcore.runs.records.repair_index`, run at start-up and on request.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, fields
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


COLUMNS = tuple(f.name for f in fields(RunInfo))
_SCHEMA = "CREATE TABLE IF NOT EXISTS runs ({})".format(
    ", ".join(c + (" TEXT PRIMARY KEY" if c == "id" else "") for c in COLUMNS))
_INSERT = f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(COLUMNS))})"


def info_from_record(record: dict[str, Any]) -> RunInfo:
    """The index row of a run record.

    Raises:
        KeyError: when the record lacks ``id``, ``created`` or ``dataset_id``.
    """
    test, val = record.get("test_metrics") or {}, record.get("val_metrics") or {}
    return RunInfo(record["id"], record["created"], record.get("kind", "train"), record.get("label", ""),
                   record["dataset_id"], record.get("dataset_name", ""), record.get("backbone", ""),
                   record.get("strategy", ""), test.get("accuracy"), test.get("balanced_accuracy"),
                   test.get("macro_f1"), val.get("accuracy"), record.get("timings", {}).get("total", 0.0),
                   len(record.get("history", [])), record.get("cache_mode", ""))


def _connect(ws: Workspace) -> sqlite3.Connection:
    con = sqlite3.connect(ws.index_db, timeout=30)
    con.execute(_SCHEMA)
    return con


def _values(info: RunInfo) -> tuple:
    return tuple(getattr(info, c) for c in COLUMNS)


def index_record(ws: Workspace, record: dict[str, Any]) -> None:
    """Add (or replace) the row of one run."""
    with closing(_connect(ws)) as con, con:
        con.execute(_INSERT, _values(info_from_record(record)))


def unindex(ws: Workspace, run_id: str) -> None:
    """Remove the row of one run."""
    with closing(_connect(ws)) as con, con:
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def read_index(ws: Workspace) -> dict[str, RunInfo] | None:
    """Every row, by run id, read without writing anything; None when there is no readable index."""
    if not ws.index_db.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{ws.index_db}?mode=ro", uri=True, timeout=30)) as con:
            rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM runs").fetchall()
    except sqlite3.Error:
        return None
    return {row[0]: RunInfo(*row) for row in rows}


def replace_rows(ws: Workspace, keep: set[str], add: Iterable[RunInfo]) -> None:
    """Drop every row whose id is not in ``keep``, then add ``add`` (the repair's one write)."""
    with closing(_connect(ws)) as con, con:
        for (run_id,) in con.execute("SELECT id FROM runs").fetchall():
            if run_id not in keep:
                con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        con.executemany(_INSERT, [_values(info) for info in add])
