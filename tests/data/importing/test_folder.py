"""Folder imports: bad files reported with reasons, symlinks never followed, caps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.data.builders import GREEN, RED, class_folder, image_bytes, make_zip, png_bomb, shades, skipped, write
from tlcore.data import ImportLimits, import_folder
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def test_bad_files_are_skipped_with_reasons_and_the_rest_imports(ws: Workspace, two_class_folder: Path) -> None:
    root = two_class_folder
    jpeg = image_bytes(GREEN, (64, 64), "JPEG")
    write(root / "red" / "truncated.jpg", jpeg[: len(jpeg) // 2])
    write(root / "red" / "fake.jpg", b"<html>not an image</html>")
    write(root / "red" / "tiny.png", image_bytes(RED, (4, 4)))
    write(root / "red" / "bomb.png", png_bomb(8000, 8000))
    write(root / "blue" / "actually_png.jpg", image_bytes((0, 0, 77)))  # wrong extension: accepted by content
    write(root / "blue" / "drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    write(root / "blue" / "doc.pdf", b"%PDF-1.4\n")
    write(root / "blue" / "nested.zip", make_zip([("a/x.png", image_bytes())]))
    write(root / "blue" / ".DS_Store", b"junk")
    write(root / "blue" / "._0.png", b"junk")
    write(root / "Thumbs.db", b"junk")
    write(root / "__MACOSX" / "red" / "._0.png", b"junk")
    dataset, report = import_folder(ws, root)
    reasons = skipped(report)
    assert reasons["red/truncated.jpg"] == "corrupt or truncated image"
    assert reasons["red/fake.jpg"] == "not an image"
    assert reasons["red/tiny.png"] == "too small (4x4 px, minimum 8)"
    assert reasons["red/bomb.png"].startswith("too many pixels (8000x8000")
    assert reasons["blue/drawing.svg"].startswith("unsupported format (SVG)")
    assert reasons["blue/doc.pdf"].startswith("unsupported format (PDF)")
    assert reasons["blue/nested.zip"].startswith("nested archive")
    assert reasons["blue/.DS_Store"] == reasons["blue/._0.png"] == "junk file (macOS metadata)"
    assert reasons["Thumbs.db"] == "junk file (Windows metadata)"
    assert reasons["__MACOSX/"] == "junk file (macOS metadata)"
    assert report.junk == 4
    assert "blue/actually_png.jpg" in [r.source_name for r in dataset.records]
    assert dataset.class_counts() == {"blue": 7, "red": 6} and report.imported == 13
    json.dumps(report.to_dict())  # JSON-able


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_folder_import_never_follows_symlinks(ws: Workspace, two_class_folder: Path, tmp_path: Path) -> None:
    outside = class_folder(tmp_path / "outside", {"green": shades(GREEN, 3)})
    os.symlink(outside / "green" / "0.png", two_class_folder / "red" / "linked.png")
    os.symlink(outside / "green", two_class_folder / "green")
    os.symlink(outside / "green", two_class_folder / "red" / "subdir")
    dataset, report = import_folder(ws, two_class_folder)
    reasons = skipped(report)
    assert reasons["red/linked.png"] == reasons["green"] == reasons["red/subdir"] == "symbolic link (not followed)"
    assert dataset.classes == ("blue", "red") and len(dataset) == 12


def test_file_count_and_size_caps_name_limit_and_figure(ws: Workspace, two_class_folder: Path) -> None:
    with pytest.raises(DatasetError, match=r"holds 12 files; the limit is 10 \(ImportLimits.max_files\)"):
        import_folder(ws, two_class_folder, limits=ImportLimits(max_files=10))
    with pytest.raises(DatasetError, match=r"holds .* bytes; the limit is 500 bytes \(ImportLimits.max_total_bytes\)"):
        import_folder(ws, two_class_folder, limits=ImportLimits(max_total_bytes=500))


