"""Zip imports: class folders with a wrapping folder and junk, path or bytes, loose and empty folders."""

from __future__ import annotations

from pathlib import Path

from tests.data.builders import good_entries, image_bytes, make_zip, skipped
from tlcore.data import import_path, import_zip
from tlcore.workspace import Workspace


def test_zip_of_class_folders_with_wrapper_and_macos_junk(ws: Workspace) -> None:
    entries = good_entries("photos/") + [
        ("__MACOSX/photos/red/._0.png", b"\x00\x05\x16\x07junk"),
        ("photos/.DS_Store", b"junk"),
        ("photos/red/._1.png", b"junk"),
        ("photos/blue/Thumbs.db", b"junk"),
    ]
    dataset, report = import_zip(ws, make_zip(entries))
    assert dataset.classes == ("blue", "red") and len(dataset) == 6
    assert report.junk == 4
    assert skipped(report)["photos/blue/Thumbs.db"] == "junk file (Windows metadata)"
    assert skipped(report)["__MACOSX/photos/red/._0.png"] == "junk file (macOS metadata)"
    assert "photos/red/0.png" in [r.source_name for r in dataset.records]  # original name kept as metadata


def test_zip_from_path_same_id_as_from_bytes(ws: Workspace, tmp_path: Path) -> None:
    data = make_zip(good_entries())
    (tmp_path / "set.zip").write_bytes(data)
    from_path, _ = import_path(ws, tmp_path / "set.zip")
    from_bytes, _ = import_zip(ws, data)
    assert from_path.id == from_bytes.id and from_path.name == "set"


def test_root_level_files_are_not_in_a_class(ws: Workspace) -> None:
    _, report = import_zip(ws, make_zip(good_entries() + [("loose.png", image_bytes((5, 5, 5)))]))
    assert skipped(report)["loose.png"] == "not inside a class folder"


def test_empty_class_folder_in_zip_is_a_warning(ws: Workspace) -> None:
    dataset, report = import_zip(ws, make_zip(good_entries() + [("green/", b""), ("green/notes.txt", b"hello")]))
    assert dataset.classes == ("blue", "red")
    assert "class 'green' has no usable images and was left out" in report.warnings
    assert skipped(report)["green/notes.txt"] == "not an image"


