"""What every import shares: class-name rules, empty/duplicate/imbalance warnings, downscaling, progress."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from tests.data.builders import BLUE, GREEN, RED, class_folder, image_bytes, shades, skipped, write
from tlcore.data import ImportLimits, import_files, import_folder, load_dataset, load_image
from tlcore.errors import Cancelled, DatasetError
from tlcore.events import CancelToken, Progress
from tlcore.workspace import Workspace


def test_large_photo_downscaled_once_with_warning(ws: Workspace, two_class_folder: Path) -> None:
    write(two_class_folder / "red" / "big.jpg", image_bytes(RED, (1600, 800), "JPEG"))
    dataset, report = import_folder(ws, two_class_folder)
    big = next(r for r in dataset.records if r.source_name == "red/big.jpg")
    assert (big.width, big.height) == (512, 256)
    assert load_image(ws, big.hash).size == (512, 256)
    assert any("1 large image(s) were downscaled" in w for w in report.warnings)


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


def test_progress_events_and_cancel(ws: Workspace, two_class_folder: Path) -> None:
    events = []
    import_folder(ws, two_class_folder, on_event=events.append)
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert (last.done, last.total) == (12, 12)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        import_folder(ws, two_class_folder, name="again", cancel=token)


# --- issue 20: names that look alike must not become two classes silently ------------------------------------


def test_invisible_and_control_characters_in_class_names(ws: Workspace, uploads) -> None:
    labels = ["dog", "dog\u200b", "\u202egod", "dog\x00", "cat", "cat"]
    text = "file,label\n" + "".join(f"img{i}.png,{lab}\n" for i, lab in enumerate(labels))
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    assert dataset.classes == ("cat", "dog", "god")
    assert dataset.class_counts() == {"cat": 2, "dog": 2, "god": 1}
    assert "class name 'dog\\u200b' contains invisible characters; imported as 'dog'" in report.warnings
    assert "class name '\\u202egod' contains invisible characters; imported as 'god'" in report.warnings
    assert skipped(report)["img3.png"] == (
        "class name 'dog\\x00' contains a control character (U+0000); not imported"
    )


def test_control_characters_in_folder_names_are_refused(ws: Workspace, two_class_folder: Path) -> None:
    write(two_class_folder / "red\x1b[2J" / "x.png", image_bytes((7, 7, 7)))
    dataset, report = import_folder(ws, two_class_folder)
    assert dataset.classes == ("blue", "red")
    assert skipped(report)["red\x1b[2J/x.png"].startswith("class name 'red\\x1b[2J' contains a control character")
    assert not any("no usable images" in w for w in report.warnings)


def test_dataset_name_is_cleaned_and_the_change_reported(ws: Workspace, two_class_folder: Path) -> None:
    dataset, report = import_folder(ws, two_class_folder, name="pets\x1b]0;owned\x07\u200b")
    assert dataset.name == "pets]0;owned"
    assert ("dataset name 'pets\\x1b]0;owned\\x07\\u200b' contains control or invisible characters; "
            "it was saved as 'pets]0;owned'") in report.warnings


def test_reimport_with_a_new_name_renames_the_dataset(ws: Workspace, two_class_folder: Path) -> None:
    first, _ = import_folder(ws, two_class_folder, name="first")
    second, report = import_folder(ws, two_class_folder, name="second")
    assert second.id == first.id and second.created == first.created
    assert second.name == "second" and load_dataset(ws, first.id).name == "second"
    assert f"this data was imported before as 'first'; dataset {first.id} is now named 'second'" in report.warnings
    _, again = import_folder(ws, two_class_folder, name="second")
    assert not any("imported before" in w for w in again.warnings)


def test_total_decoded_pixel_budget(ws: Workspace, two_class_folder: Path) -> None:
    with pytest.raises(DatasetError) as err:
        import_folder(ws, two_class_folder, limits=ImportLimits(max_total_pixels=16 * 16 * 5))
    message = str(err.value)
    assert message.startswith("colours: blue/5.png (16x16 px) would take the decoded pixels of this import past")
    assert "(ImportLimits.max_total_pixels)" in message
    import_folder(ws, two_class_folder, limits=ImportLimits(max_total_pixels=16 * 16 * 12))
