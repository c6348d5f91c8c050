"""Folder and upload imports: bad files reported with reasons, symlinks never followed, class names, caps."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from tests.data.builders import BLUE, GREEN, RED, WHITE, class_folder, image_bytes, make_zip, png_bomb, shades, write
from tlcore.data import ImportLimits, import_files, import_folder, import_path, load_image
from tlcore.errors import Cancelled, DatasetError
from tlcore.events import CancelToken, Progress
from tlcore.workspace import Workspace


def skipped(report) -> dict[str, str]:
    return {s.name: s.reason for s in report.skipped}


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


def test_large_photo_downscaled_once_with_warning(ws: Workspace, two_class_folder: Path) -> None:
    write(two_class_folder / "red" / "big.jpg", image_bytes(RED, (1600, 800), "JPEG"))
    dataset, report = import_folder(ws, two_class_folder)
    big = next(r for r in dataset.records if r.source_name == "red/big.jpg")
    assert (big.width, big.height) == (512, 256)
    assert load_image(ws, big.hash).size == (512, 256)
    assert any("1 large image(s) were downscaled" in w for w in report.warnings)


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


def test_nfc_and_nfd_class_names_are_one_class(ws: Workspace, tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    root = tmp_path / "drinks"
    class_folder(root, {nfc: shades(RED, 2), "thé ☕ & co": shades(BLUE, 3)})
    for i, c in enumerate(shades(GREEN, 2)):
        write(root / nfd / f"n{i}.png", image_bytes(c))
    dataset, _ = import_folder(ws, root)
    assert dataset.classes == ("café", "thé ☕ & co")  # odd characters kept, NFC
    assert dataset.class_counts() == {"café": 4, "thé ☕ & co": 3}


def test_case_only_collision_is_refused_naming_both_spellings(ws: Workspace, tmp_path: Path) -> None:
    root = class_folder(tmp_path / "pets", {"Cat": shades(RED, 2), "cat": shades(GREEN, 2), "dog": shades(BLUE, 2)})
    with pytest.raises(DatasetError) as err:
        import_folder(ws, root)
    text = str(err.value)
    assert "'Cat' and 'cat'" in text and "upper/lower case" in text and "will not guess" in text


def test_single_class_is_refused_naming_it(ws: Workspace, tmp_path: Path) -> None:
    root = class_folder(tmp_path / "one", {"cat": shades(RED, 3)})
    with pytest.raises(DatasetError, match=r"only one class \('cat'\) has usable images; at least 2"):
        import_folder(ws, root)


def test_empty_class_folder_is_left_out_with_a_warning(ws: Workspace, two_class_folder: Path) -> None:
    (two_class_folder / "green").mkdir()
    write(two_class_folder / "yellow" / "broken.png", b"\x89PNG\r\n\x1a\nbroken")
    dataset, report = import_folder(ws, two_class_folder)
    assert dataset.classes == ("blue", "red")
    assert "class 'green' has no usable images and was left out" in report.warnings
    assert "class 'yellow' has no usable images and was left out" in report.warnings


def test_no_usable_images_is_an_error_with_a_summary(ws: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "junkonly" / "a" / "x.txt", b"text")
    write(tmp_path / "junkonly" / "b" / "y.txt", b"text")
    with pytest.raises(DatasetError, match=r"junkonly: no usable images found \(2 file\(s\) skipped: 2 not an image\)"):
        import_folder(ws, tmp_path / "junkonly")


def test_duplicates_are_kept_and_reported(ws: Workspace, two_class_folder: Path) -> None:
    write(two_class_folder / "red" / "copy.png", (two_class_folder / "red" / "0.png").read_bytes())
    write(two_class_folder / "blue" / "mislabelled.png", (two_class_folder / "red" / "1.png").read_bytes())
    dataset, report = import_folder(ws, two_class_folder)
    assert len(dataset) == 14
    assert any(w.startswith("1 duplicate image(s) with identical content in the same class") for w in report.warnings)
    assert any("labelled 'blue' ('blue/mislabelled.png') and 'red' ('red/1.png')" in w for w in report.warnings)


def test_imbalance_is_warned(ws: Workspace, tmp_path: Path) -> None:
    root = class_folder(tmp_path / "imb", {"many": shades(RED, 13), "few": shades(BLUE, 3)})
    _, report = import_folder(ws, root)
    assert any(w.startswith("classes are imbalanced: 'many' has 13 images, 'few' only 3") for w in report.warnings)


def test_file_count_and_size_caps_name_limit_and_figure(ws: Workspace, two_class_folder: Path) -> None:
    with pytest.raises(DatasetError, match=r"holds 12 files; the limit is 10 \(ImportLimits.max_files\)"):
        import_folder(ws, two_class_folder, limits=ImportLimits(max_files=10))
    with pytest.raises(DatasetError, match=r"holds .* bytes; the limit is 500 bytes \(ImportLimits.max_total_bytes\)"):
        import_folder(ws, two_class_folder, limits=ImportLimits(max_total_bytes=500))


def test_bad_limits_are_refused() -> None:
    with pytest.raises(DatasetError, match="ImportLimits.max_side must be positive"):
        ImportLimits(max_side=0)
    with pytest.raises(DatasetError, match="min_side"):
        ImportLimits(min_side=100, max_side=64)


def test_progress_events_and_cancel(ws: Workspace, two_class_folder: Path) -> None:
    events = []
    import_folder(ws, two_class_folder, on_event=events.append)
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert (last.done, last.total) == (12, 12)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        import_folder(ws, two_class_folder, name="again", cancel=token)


def test_import_path_dispatch_and_errors(ws: Workspace, two_class_folder: Path, tmp_path: Path) -> None:
    dataset, _ = import_path(ws, two_class_folder)
    assert dataset.name == "colours"
    with pytest.raises(DatasetError, match="does not exist"):
        import_path(ws, tmp_path / "nope")
    write(tmp_path / "photo.png", image_bytes())
    with pytest.raises(DatasetError, match=r"photo.png is neither a folder, a .zip archive nor a .csv"):
        import_path(ws, tmp_path / "photo.png")


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
