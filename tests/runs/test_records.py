"""Run records: list, filter and delete without loading a model, crash-safe writes, and an index that reads never
write and a repair rebuilds from the run folders."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import fresh_backbone, tiny_config
from tlcore.errors import RunNotFound
from tlcore.runs.records import delete_run, get_run, list_runs, repair_index, write_run
from tlcore.runs.store import load_run, save_run
from tlcore.train.loop import train


def test_list_filter_and_delete(ws, dataset, trained):  # noqa: F811
    _, first = trained
    result = train(ws, dataset, tiny_config("feature-extraction", epochs=1), backbone=fresh_backbone())
    second = save_run(ws, result, dataset)
    assert [r.id for r in list_runs(ws)] == [second, first]
    assert [r.id for r in list_runs(ws, strategy="fine-tune")] == [first]
    row = list_runs(ws, strategy="feature-extraction")[0]
    assert row.test_accuracy == pytest.approx(result.test_metrics["accuracy"]) and row.epochs == 1
    delete_run(ws, first)
    assert [r.id for r in list_runs(ws)] == [second]
    with pytest.raises(RunNotFound):
        load_run(ws, first)


def test_a_write_that_fails_halfway_leaves_no_run(ws):
    def boom(path):
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    record = {"id": "r1", "created": 1.0, "dataset_id": "d"}
    with pytest.raises(OSError):
        write_run(ws, record, {"model.safetensors": boom})
    assert list_runs(ws) == [] and not (ws.runs / "r1").exists()
    assert not list(ws.tmp.iterdir())


def test_repair_index_repairs_the_index_and_clears_dead_temp_folders(ws, dataset, trained):  # noqa: F811
    _, run_id = trained
    with sqlite3.connect(ws.index_db) as con:
        con.execute("DELETE FROM runs")
        con.execute("INSERT INTO runs (id, created, dataset_id) VALUES ('ghost', 0, 'x')")
    dead = ws.tmp / "run-x.999999.tmp"
    dead.mkdir()
    (dead / "run.json").write_text(json.dumps({"id": "x"}))
    repair_index(ws)
    assert [r.id for r in list_runs(ws)] == [run_id]
    assert not dead.exists()


def test_bad_run_ids_are_refused(ws):
    for bad in ("../etc", "", ".hidden", "a/b"):
        with pytest.raises(RunNotFound):
            get_run(ws, bad)


def _record(run_id: str, created: float, **extra) -> dict:
    return {"id": run_id, "created": created, "dataset_id": "d", "kind": "cv", **extra}


def _index_bytes(ws) -> bytes | None:
    return ws.index_db.read_bytes() if ws.index_db.exists() else None


def test_listing_runs_writes_nothing_and_still_shows_what_is_on_disk(ws):
    write_run(ws, _record("a", 1.0))
    write_run(ws, _record("b", 2.0, label="copied in"))
    with sqlite3.connect(ws.index_db) as con:  # the index lost b (a crash after the rename) and holds a ghost
        con.execute("DELETE FROM runs WHERE id = 'b'")
        con.execute("INSERT INTO runs (id, created, dataset_id) VALUES ('ghost', 9, 'x')")
    before = _index_bytes(ws)
    runs = list_runs(ws)
    assert [r.id for r in runs] == ["b", "a"] and runs[0].label == "copied in"
    assert [r.id for r in list_runs(ws, kind="cv", dataset_id="d")] == ["b", "a"]
    assert _index_bytes(ws) == before  # the read repaired nothing on disk
    repair_index(ws)
    with sqlite3.connect(ws.index_db) as con:
        assert sorted(r[0] for r in con.execute("SELECT id FROM runs")) == ["a", "b"]


def test_listing_runs_without_an_index_does_not_create_one(ws):
    write_run(ws, _record("a", 1.0))
    ws.index_db.unlink()
    assert [r.id for r in list_runs(ws)] == ["a"]
    assert not ws.index_db.exists()


def test_an_unreadable_index_is_rebuilt_from_the_run_folders(ws):
    write_run(ws, _record("a", 1.0))
    write_run(ws, _record("b", 2.0))
    ws.index_db.write_bytes(b"this is not a database" * 100)
    assert [r.id for r in list_runs(ws)] == ["b", "a"]  # listed from the folders meanwhile
    repair_index(ws)
    with sqlite3.connect(ws.index_db) as con:
        assert sorted(r[0] for r in con.execute("SELECT id FROM runs")) == ["a", "b"]


def test_listing_runs_imports_no_torch(ws):
    import subprocess
    import sys

    write_run(ws, _record("a", 1.0))
    code = ("import sys; from tlcore.workspace import Workspace; from tlcore.runs.records import list_runs; "
            f"print([r.id for r in list_runs(Workspace({str(ws.root)!r}))], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['a']", "False"]
