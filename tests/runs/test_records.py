"""Run records: list, filter and delete without loading a model, crash-safe writes, and an index that reads never
write and a repair rebuilds from the run folders."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tests.conftest import fresh_backbone, tiny_config
from tlcore.errors import RunNotFound
from tlcore.runs.checks import RunDamaged
from tlcore.runs.index import read_index
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


# --- Everything read back is untrusted (issue 20): a damaged run is listed with its reason, never a traceback ---

def _train_record(run_id: str, created: float, **extra) -> dict:
    return {"id": run_id, "created": created, "dataset_id": "d", "kind": "train", "classes": ["a", "b"],
            "config": {}, "split": {"train": [0, 1], "val": [2], "test": [3]}, "n_images": 4, **extra}


def _edit(key, value=None, delete=False):
    def apply(folder):
        record = json.loads((folder / "run.json").read_text())
        record.pop(key) if delete else record.__setitem__(key, value)
        (folder / "run.json").write_text(json.dumps(record))
    return apply


def _write(data: bytes):
    return lambda folder: (folder / "run.json").write_bytes(data)


def _replace_with_file(folder):
    import shutil

    shutil.rmtree(folder)
    folder.write_text("not a folder")


def _json_folder(folder):
    (folder / "run.json").unlink()
    (folder / "run.json").mkdir()


CORRUPTIONS = {
    "truncated": (lambda f: (f / "run.json").write_bytes((f / "run.json").read_bytes()[:40]), "not valid JSON"),
    "empty array": (_write(b"[]"), "holds a JSON array"),
    "invalid utf-8": (_write(b'{"id": "\xff\xfe"}'), "not UTF-8"),
    "no split": (_edit("split", delete=True), "'split' is missing"),
    "no created": (_edit("created", delete=True), "has no 'created'"),
    "created is text": (_edit("created", "yesterday"), "'created' is \"yesterday\""),
    "dataset_id is a number": (_edit("dataset_id", 7), "'dataset_id' is 7"),
    "metrics are a list": (_edit("test_metrics", [1, 2]), "'test_metrics' is a JSON array"),
    "accuracy is text": (_edit("test_metrics", {"accuracy": "high"}), "test_metrics.accuracy"),
    "history of text": (_edit("history", ["epoch one"]), "'history'"),
    "index out of range": (_edit("split", {"train": [0, 1], "val": [2], "test": [99]}), "index 99 is out of range"),
    "negative index": (_edit("split", {"train": [0, -1], "val": [2], "test": [3]}), "split.train"),
    "overlapping split": (_edit("split", {"train": [0, 1], "val": [1], "test": [3]}), "appears twice"),
    "another run's id": (_edit("id", "someone-else"), "names another run"),
    "folder replaced by a file": (_replace_with_file, "is a file, not a run folder"),
    "run.json is a folder": (_json_folder, "run.json is a folder, not a file"),
    "run.json missing": (lambda f: (f / "run.json").unlink(), "run.json is missing"),
}


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "not indexed"])
@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_damaged_run_is_listed_with_its_reason_and_the_others_keep_working(ws, name, indexed):
    corrupt, reason = CORRUPTIONS[name]
    write_run(ws, _train_record("good", 1.0, label="intact"), {"model.safetensors": b"weights"})
    write_run(ws, _train_record("bad", 2.0), {"model.safetensors": b"weights"})  # a model: its split is required
    if not indexed:
        with sqlite3.connect(ws.index_db) as con:
            con.execute("DELETE FROM runs WHERE id = 'bad'")
    corrupt(ws.runs / "bad")
    runs = {r.id: r for r in list_runs(ws)}
    assert set(runs) == {"good", "bad"}
    assert runs["good"].damaged == "" and runs["good"].label == "intact"
    assert runs["bad"].kind == "damaged" and runs["bad"].damaged.startswith("run bad is damaged: ")
    assert reason in runs["bad"].damaged
    assert [r.id for r in list_runs(ws, kind="train")] == ["good"]  # pickers never offer a damaged run
    assert [r.id for r in list_runs(ws, kind="damaged")] == ["bad"]
    with pytest.raises(RunDamaged, match="run bad is damaged") as err:
        get_run(ws, "bad")
    assert reason in str(err.value)
    repair_index(ws)  # a repair never deletes what the user made, and keeps the damaged run out of the index
    assert os.path.lexists(ws.runs / "bad") and {r.id for r in list_runs(ws)} == {"good", "bad"}
    assert set(read_index(ws)) == {"good"}
    assert get_run(ws, "good")["label"] == "intact"
    delete_run(ws, "bad")  # when the user asks, a damaged run is deleted like any other
    assert [r.id for r in list_runs(ws)] == ["good"] and not os.path.lexists(ws.runs / "bad")


def test_index_rows_with_values_of_the_wrong_type_are_read_from_the_folders(ws):
    write_run(ws, _record("a", 1.0))
    write_run(ws, _record("b", 2.0))
    with sqlite3.connect(ws.index_db) as con:
        con.execute("UPDATE runs SET created = 'yesterday', label = 3 WHERE id = 'b'")
    assert [(r.id, r.created) for r in list_runs(ws)] == [("b", 2.0), ("a", 1.0)]


def _garbage(ws):
    ws.index_db.write_bytes(b"\x00garbage, not SQLite" * 64)


def _old_schema(ws):
    ws.index_db.unlink()
    with sqlite3.connect(ws.index_db) as con:
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, created, dataset_id)")
        con.execute("INSERT INTO runs VALUES ('a', 1.0, 'd')")


@pytest.mark.parametrize("spoil", [_garbage, _old_schema], ids=["garbage", "another schema"])
def test_delete_and_save_rebuild_an_index_they_cannot_use(ws, spoil):
    for run_id, created in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        write_run(ws, _record(run_id, created))
    spoil(ws)
    delete_run(ws, "a")
    assert [r.id for r in list_runs(ws)] == ["c", "b"]
    assert set(read_index(ws)) == {"b", "c"}  # rebuilt from the folders
    spoil(ws)
    write_run(ws, _record("d", 4.0))
    assert set(read_index(ws)) == {"b", "c", "d"}
    assert [r.id for r in list_runs(ws)] == ["d", "c", "b"]


def test_a_folder_in_place_of_the_index_does_not_stop_saving_deleting_or_listing(ws):
    write_run(ws, _record("a", 1.0))
    ws.index_db.unlink()
    ws.index_db.mkdir()
    write_run(ws, _record("b", 2.0))
    delete_run(ws, "a")
    repair_index(ws)
    assert [r.id for r in list_runs(ws)] == ["b"] and ws.index_db.is_dir()  # left alone: it is not ours to delete
