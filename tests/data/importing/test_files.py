"""Browser uploads: one zip is an archive import, loose images need a CSV, upload caps, pixels on white."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.data.builders import BLUE, GREEN, RED, WHITE, image_bytes, make_zip, shades, skipped, write
from tlcore.data import ImportLimits, import_files, load_image
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def test_upload_with_a_single_zip_is_an_archive_import(ws: Workspace, tmp_path: Path) -> None:
    data = make_zip([(f"set/{c}/{i}.png", image_bytes(v)) for c, base in (("r", RED), ("b", BLUE))
                     for i, v in enumerate(shades(base, 3))])
    spooled = write(tmp_path / "spool" / "upload-1", data)
    extra = write(tmp_path / "spool" / "upload-2", image_bytes(GREEN))
    junk = write(tmp_path / "spool" / "upload-3", b"junk")
    dataset, report = import_files(ws, [("set.zip", spooled), ("other.png", extra), (".DS_Store", junk)])
    assert dataset.classes == ("b", "r") and len(dataset) == 6 and dataset.name == "set"
    assert skipped(report)["other.png"] == "not used: the archive set.zip was imported instead"
    assert report.junk == 1
    with pytest.raises(DatasetError, match=r"holds 2 zip archives \(a.zip, b.zip\)"):
        import_files(ws, [("a.zip", spooled), ("b.zip", spooled)])


def test_upload_caps(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "u" / "1", image_bytes())
    three = [("a.png", f), ("b.png", f), ("c.png", f)]
    with pytest.raises(DatasetError, match=r"the upload holds 3 files; the limit is 2 \(ImportLimits.max_files\)"):
        import_files(ws, three, csv=b"file,label\n", limits=ImportLimits(max_files=2))
    with pytest.raises(DatasetError, match=r"the upload holds \d+ bytes; the limit is 20 bytes \(ImportLimits.max_tot"):
        import_files(ws, three[:1], csv=b"file,label\n", limits=ImportLimits(max_total_bytes=20))


def test_loose_images_without_csv_are_refused(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "u" / "1", image_bytes())
    with pytest.raises(DatasetError, match="loose images need a CSV of labels"):
        import_files(ws, [("a.png", f)])


def test_stored_pixels_of_rgba_upload_are_on_white(ws: Workspace, tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "t.png")
    files = [("t.png", tmp_path / "t.png"), ("g.png", write(tmp_path / "g", image_bytes(GREEN)))]
    dataset, _ = import_files(ws, files, csv=("labels.csv", b"file,label\nt.png,a\ng.png,b\n"))
    stored = load_image(ws, dataset.records[0].hash)
    assert stored.getpixel((5, 5)) == WHITE and stored.getpixel((0, 0)) == BLUE


def test_csv_found_among_the_uploaded_files(ws: Workspace, uploads, tmp_path: Path) -> None:
    csv_file = write(tmp_path / "spool" / "c", b"file,label\nimg0.png,x\nimg1.png,x\nimg3.png,y\nimg4.png,y\n")
    dataset, report = import_files(ws, uploads + [("my labels.csv", csv_file)])
    assert dataset.class_counts() == {"x": 2, "y": 2} and dataset.name == "my labels"
    assert skipped(report)["img2.png"] == "not listed in my labels.csv"
