"""Manifest, report and stored images on disk; ids from content only; listing newest first."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.data.builders import BLUE, GREEN, RED, class_folder, shades
from tlcore.data import (
    Dataset,
    ImageRecord,
    dataset_id,
    image_hash,
    import_folder,
    list_datasets,
    load_dataset,
    load_image,
    load_report,
)
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def test_manifest_and_report_round_trip(ws: Workspace, two_class_folder: Path) -> None:
    dataset, report = import_folder(ws, two_class_folder)
    assert dataset.classes == ("blue", "red")
    assert len(dataset) == 12 and dataset.class_counts() == {"blue": 6, "red": 6}
    assert dataset.labels.dtype == np.int64 and dataset.labels.tolist() == [0] * 6 + [1] * 6
    assert [r.source_name for r in dataset.records[:2]] == ["blue/0.png", "blue/1.png"]
    assert load_dataset(ws, dataset.id) == dataset
    assert load_report(ws, dataset.id) == report
    assert report.dataset_id == dataset.id and report.imported == 12 and report.class_counts == {"blue": 6, "red": 6}
    folder = ws.datasets / dataset.id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["id"] == dataset.id and manifest["classes"] == ["blue", "red"]
    assert {"hash", "label", "source_name", "width", "height"} <= set(manifest["records"][0])
    json.loads((folder / "report.json").read_text())  # valid JSON


def test_images_are_stored_by_content_hash(ws: Workspace, two_class_folder: Path) -> None:
    dataset, _ = import_folder(ws, two_class_folder)
    for record in dataset.records:
        path = ws.image_path(record.hash)
        assert path.is_file() and path.name == f"{record.hash}.png"
        img = load_image(ws, record.hash)
        assert img.mode == "RGB" and img.size == (record.width, record.height) == (16, 16)
        assert image_hash(img) == record.hash


def test_same_data_twice_gives_same_id_and_keeps_the_manifest(ws: Workspace, tmp_path: Path) -> None:
    a = class_folder(tmp_path / "a", {"red": shades(RED, 3), "green": shades(GREEN, 3)})
    first, _ = import_folder(ws, a, name="first")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / "red" / "0.png").rename(b / "red" / "renamed.png")  # names are not part of the id
    second, _ = import_folder(ws, b, name="second")
    assert second.id == first.id
    assert second.name == "second" and second.created == first.created  # issue 20: the new name wins
    assert len(list_datasets(ws)) == 1


def test_id_depends_on_content_only() -> None:
    pairs = [("a" * 64, "cat"), ("b" * 64, "dog")]
    assert dataset_id(["dog", "cat"], pairs) == dataset_id(["cat", "dog"], reversed(pairs))
    assert dataset_id(["cat", "dog"], pairs) != dataset_id(["cat", "dog"], [("a" * 64, "dog"), ("b" * 64, "cat")])
    assert len(dataset_id(["cat"], pairs)) == 16


def test_list_datasets_newest_first(ws: Workspace, tmp_path: Path) -> None:
    older, _ = import_folder(ws, class_folder(tmp_path / "x", {"red": shades(RED, 3), "green": shades(GREEN, 3)}))
    newer, _ = import_folder(ws, class_folder(tmp_path / "y", {"red": shades(RED, 4), "green": shades(GREEN, 4)}))
    manifest = ws.datasets / older.id / "manifest.json"
    data = json.loads(manifest.read_text())
    data["created"] = newer.created - 100
    manifest.write_text(json.dumps(data))
    assert [d.id for d in list_datasets(ws)] == [newer.id, older.id]


def test_unknown_or_malformed_ids_are_refused(ws: Workspace) -> None:
    with pytest.raises(DatasetError, match="no dataset 0123456789abcdef"):
        load_dataset(ws, "0123456789abcdef")
    with pytest.raises(DatasetError, match="not a dataset id"):
        load_dataset(ws, "../../etc")
    with pytest.raises(DatasetError, match="not an image hash"):
        load_image(ws, "../x")


def test_missing_stored_image_is_a_clear_error(ws: Workspace) -> None:
    with pytest.raises(DatasetError, match="missing from the workspace"):
        load_image(ws, "f" * 64)


def test_broken_manifest_is_left_out_of_the_list(ws: Workspace, two_class_folder: Path) -> None:
    dataset, _ = import_folder(ws, two_class_folder)
    bad = ws.datasets / "00000000000000aa"
    bad.mkdir()
    (bad / "manifest.json").write_text("{not json")
    assert [d.id for d in list_datasets(ws)] == [dataset.id]
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset(ws, "00000000000000aa")


def test_dataset_properties() -> None:
    records = (ImageRecord("a" * 64, 0, "x.png", 8, 8), ImageRecord("b" * 64, 1, "y.png", 8, 8))
    d = Dataset("0" * 16, "d", ("cat", "dog"), records)
    assert d.hashes == ["a" * 64, "b" * 64]
    assert d.class_counts() == {"cat": 1, "dog": 1}


def test_damaged_stored_image_is_named_and_rewritten_by_the_next_import(ws: Workspace, tmp_path: Path) -> None:
    folder = class_folder(tmp_path / "a", {"red": shades(RED, 3), "blue": shades(BLUE, 3)})
    dataset, _ = import_folder(ws, folder)
    emptied, swapped = dataset.records[0].hash, dataset.records[1].hash
    ws.image_path(emptied).write_bytes(b"")
    shutil.copyfile(ws.image_path(dataset.records[2].hash), ws.image_path(swapped))  # valid PNG, wrong content
    with pytest.raises(DatasetError, match="cannot be read .*; import the dataset again"):
        load_image(ws, emptied)
    with pytest.raises(DatasetError) as err:
        load_image(ws, swapped)
    assert str(err.value) == (
        f"stored image {ws.image_path(swapped)} is damaged: its content does not match its name (the content hash); "
        "import the dataset again to repair it"
    )
    again, report = import_folder(ws, folder)
    assert again.id == dataset.id
    assert "2 stored image(s) in the workspace were damaged and have been written again" in report.warnings
    for h in (emptied, swapped):
        assert image_hash(load_image(ws, h)) == h
    _, clean = import_folder(ws, folder)
    assert not any("damaged" in w for w in clean.warnings)


# --- Manifests and reports read back are untrusted (issue 20): a damaged dataset is listed, named, never used ---

def _manifest_edit(change):
    def apply(folder: Path) -> None:
        data = json.loads((folder / "manifest.json").read_text())
        change(data)
        (folder / "manifest.json").write_text(json.dumps(data))
    return apply


def _folder_to_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_text("not a folder")


def _manifest_to_folder(folder: Path) -> None:
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").mkdir()


MANIFEST_CORRUPTIONS = {
    "truncated": (lambda f: (f / "manifest.json").write_bytes((f / "manifest.json").read_bytes()[:50]),
                  "not valid JSON"),
    "empty array": (lambda f: (f / "manifest.json").write_text("[]"), "holds a JSON list"),
    "invalid utf-8": (lambda f: (f / "manifest.json").write_bytes(b'{"id": "\xff"}'), "not UTF-8"),
    "no records": (_manifest_edit(lambda d: d.pop("records")), "has no 'records'"),
    "classes is text": (_manifest_edit(lambda d: d.update(classes="blue,red")), "'classes' is not a list"),
    "label is text": (_manifest_edit(lambda d: d["records"][0].update(label="0")), "record 0"),
    "label out of range": (_manifest_edit(lambda d: d["records"][1].update(label=9)), "record 1"),
    "created is text": (_manifest_edit(lambda d: d.update(created="yesterday")), "'created' is 'yesterday'"),
    "record is a list": (_manifest_edit(lambda d: d["records"].__setitem__(0, [1, 2])), "record 0 is not an object"),
    "another id": (_manifest_edit(lambda d: d.update(id="0" * 16)), "names another dataset"),
    "manifest is a folder": (_manifest_to_folder, "is a folder, not a file"),
    "manifest missing": (lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
    "folder is a file": (_folder_to_file, "is a file, not a dataset folder"),
}


@pytest.mark.parametrize("name", list(MANIFEST_CORRUPTIONS))
def test_a_damaged_manifest_is_listed_as_damaged_and_refused_by_name(ws: Workspace, tmp_path: Path, name) -> None:
    from tlcore.data.dataset import damaged_datasets

    corrupt, reason = MANIFEST_CORRUPTIONS[name]
    good, _ = import_folder(ws, class_folder(tmp_path / "a", {"red": shades(RED, 3), "blue": shades(BLUE, 3)}))
    bad, _ = import_folder(ws, class_folder(tmp_path / "b", {"red": shades(RED, 2), "green": shades(GREEN, 2)}))
    corrupt(ws.datasets / bad.id)
    assert [d.id for d in list_datasets(ws)] == [good.id]
    [damaged] = damaged_datasets(ws)
    assert damaged.id == bad.id and not damaged.usable
    assert damaged.reason.startswith(f"dataset {bad.id} is damaged: ") and reason in damaged.reason
    if (ws.datasets / bad.id).is_dir() and (ws.datasets / bad.id / "manifest.json").exists():
        with pytest.raises(DatasetError, match=f"dataset {bad.id} is damaged: ") as err:
            load_dataset(ws, bad.id)
        assert reason in str(err.value)
    assert load_dataset(ws, good.id) == good
    assert os.path.lexists(ws.datasets / bad.id)  # never deleted


@pytest.mark.parametrize("content, reason", [
    (b"{\"dataset_id\": ", "not valid JSON"),
    (b"[]", "holds a JSON list"),
    (b'{"imported": 3}', "has no 'dataset_id'"),
    (None, "'class_counts' is not an object of counts"),
    (b'{"dataset_id": "x", "imported": 1, "skipped": ["a.png"]}', "'skipped' is not a list"),
])
def test_a_damaged_report_is_named_and_the_dataset_still_loads(ws: Workspace, two_class_folder: Path, content,
                                                                reason) -> None:
    from tlcore.data.dataset import damaged_datasets

    dataset, report = import_folder(ws, two_class_folder)
    if content is None:  # a dict where a list of counts belongs: an AttributeError before
        content = json.dumps({**report.to_dict(), "class_counts": [1, 2]}).encode()
    (ws.datasets / dataset.id / "report.json").write_bytes(content)
    with pytest.raises(DatasetError, match=f"dataset {dataset.id}: the import report report.json ") as err:
        load_report(ws, dataset.id)
    assert reason in str(err.value)
    assert [d.id for d in list_datasets(ws)] == [dataset.id]
    [damaged] = damaged_datasets(ws)
    assert damaged.usable and reason in damaged.reason
