"""Loose images + a CSV of labels: dialects, headers, labels kept as written, mismatches reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.data.builders import BLUE, GREEN, RED, image_bytes, shades, skipped, write
from tlcore.data import import_csv, import_files, import_path, read_label_csv
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def test_bom_semicolon_and_header_names(ws: Workspace, uploads) -> None:
    text = "\ufeffFileName;Class\n" + "".join(f"img{i};{'red' if i < 3 else 'blue'}\n".replace(f"img{i}", f"img{i}.png")
                                               for i in range(6))
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode("utf-8")))
    assert dataset.classes == ("blue", "red") and dataset.class_counts() == {"blue": 3, "red": 3}
    assert not report.skipped and dataset.name == "labels"


def test_tab_separated_without_header(ws: Workspace, uploads) -> None:
    text = "".join(f"img{i}.png\t{'a' if i % 2 else 'b'}\n" for i in range(6))
    dataset, _ = import_files(ws, uploads, csv=("labels.tsv", text.encode()))
    assert dataset.class_counts() == {"a": 3, "b": 3}


@pytest.mark.parametrize("header", ["image,category", "IMAGE,Label", "path,target", "id,file,notes,class"])
def test_header_column_names_are_case_insensitive(header: str) -> None:
    cols = header.split(",")
    row = ["x" if c.lower() not in ("image", "path", "file") else "a.png" for c in cols]
    row = [("cat" if c.lower() in ("category", "label", "target", "class") else v) for c, v in zip(cols, row)]
    table = read_label_csv(f"{header}\n{','.join(row)}\n".encode(), "l.csv")
    assert table.labels == {"a.png": "cat"}


def test_missing_columns_name_the_csv_and_its_columns() -> None:
    with pytest.raises(DatasetError) as err:
        read_label_csv(b"name,kind\na.png,cat\n", "labels.csv")
    assert "labels.csv: no file-name and label columns found; its columns are 'name', 'kind'" in str(err.value)
    with pytest.raises(DatasetError, match="labels.csv: no file-name and label columns found; its columns are 'file'"):
        read_label_csv(b"file\na.png\n", "labels.csv")
    with pytest.raises(DatasetError, match="labels.csv is empty"):
        read_label_csv(b"\n\n", "labels.csv")


def test_labels_are_kept_as_written(ws: Workspace, uploads) -> None:
    rows = ["NA", "None", "01", "1", "NA", "None"]
    text = "file,label\n" + "".join(f"img{i}.png,{lab}\n" for i, lab in enumerate(rows))
    dataset, _ = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    assert dataset.classes == ("01", "1", "NA", "None")
    assert dataset.class_counts() == {"01": 1, "1": 1, "NA": 2, "None": 2}


def test_mismatches_between_csv_and_upload_are_reported(ws: Workspace, uploads) -> None:
    text = (
        "filename,label\n"
        "img0.png,red\nimg1.png,red\nimg2.png,red\nimg3.png,blue\nimg4.png,blue\n"
        "img0.png,red\n"  # identical repeat: counted once
        "img4.png,green\n"  # conflicting repeat: left out
        "../img5.png,blue\n/etc/passwd,blue\nC:\\Windows\\x.png,blue\n"
        "gone.png,blue\n"
        "img3.png,\n"
    )
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    reasons = skipped(report)
    assert reasons["img4.png"] == "labelled differently in labels.csv ('blue' and 'green'); left out"
    for escaping in ("../img5.png", "/etc/passwd", "C:/Windows/x.png"):
        assert reasons[escaping].startswith("path in labels.csv escapes the upload"), escaping
    assert reasons["gone.png"] == "listed in labels.csv but not in the upload"
    assert "img5.png" not in reasons  # already reported under the escaping path that named it
    assert "img3.png" not in reasons  # labelled on another row; the empty row counts as a repeat
    assert "2 repeated row(s) in labels.csv were counted once" in report.warnings
    assert dataset.class_counts() == {"blue": 1, "red": 3}


def test_row_without_label_is_reported(ws: Workspace, uploads) -> None:
    text = "file,label\nimg0.png,a\nimg1.png,a\nimg3.png,b\nimg4.png,b\nimg2.png, \n"
    _, report = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    assert skipped(report)["img2.png"] == "no label in labels.csv (row 6)"


def test_csv_with_conflicts_still_needs_two_classes(ws: Workspace, uploads) -> None:
    text = "file,label\nimg0.png,a\nimg1.png,a\nimg1.png,b\n"
    with pytest.raises(DatasetError, match=r"only one class \('a'\)"):
        import_files(ws, uploads, csv=("labels.csv", text.encode()))


def test_csv_paths_match_uploaded_basenames(ws: Workspace, uploads) -> None:
    text = "file,label\n" + "".join(f"photos/{c}/img{i}.png,{c}\n" for i, c in enumerate("aaabbb"))
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    assert dataset.class_counts() == {"a": 3, "b": 3} and not report.skipped


def test_cp1252_csv_is_read_with_a_warning(ws: Workspace, uploads) -> None:
    text = "file,label\n" + "".join(f"img{i}.png,{'café' if i < 3 else 'thé'}\n" for i in range(6))
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode("cp1252")))
    assert dataset.classes == ("café", "thé")
    assert "labels.csv is not UTF-8; it was read as Windows-1252" in report.warnings


def test_import_csv_from_disk_resolves_beside_the_csv(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "set"
    for i, c in enumerate(shades(GREEN, 3)):
        write(root / "imgs" / f"g{i}.png", image_bytes(c))
    for i, c in enumerate(shades(BLUE, 3)):
        write(root / "imgs" / f"b{i}.png", image_bytes(c))
    write(root / "imgs" / "extra.png", image_bytes((1, 2, 3)))
    write(root / "imgs" / "readme.txt", b"not listed, not an image name: ignored")
    write(tmp_path / "outside.png", image_bytes((9, 8, 7)))
    if hasattr(os, "symlink"):
        os.symlink(tmp_path / "outside.png", root / "imgs" / "link.png")
    rows = [f"imgs/g{i}.png,green" for i in range(3)] + [f"imgs/b{i}.png,blue" for i in range(3)]
    rows += ["imgs/link.png,green", "imgs/missing.png,blue", "../outside.png,blue"]
    write(root / "labels.csv", ("file,label\n" + "\n".join(rows) + "\n").encode())
    dataset, report = import_path(ws, root / "labels.csv")
    assert dataset.class_counts() == {"blue": 3, "green": 3}
    reasons = skipped(report)
    assert reasons["imgs/extra.png"] == "not listed in labels.csv"
    assert reasons["imgs/missing.png"].startswith("listed in labels.csv but not found under")
    assert reasons["../outside.png"].startswith("path in labels.csv escapes the upload")
    if hasattr(os, "symlink"):
        assert reasons["imgs/link.png"] == "symbolic link (not followed)"
    assert "imgs/readme.txt" not in reasons
    again, _ = import_csv(ws, root / "labels.csv", images_root=root)
    assert again.id == dataset.id


def test_label_whose_images_all_fail_is_a_warning(ws: Workspace, uploads, tmp_path: Path) -> None:
    broken = write(tmp_path / "spool" / "broken", b"GIF89a broken")
    text = "file,label\nimg0.png,a\nimg1.png,a\nimg3.png,b\nimg4.png,b\nbroken.gif,c\n"
    dataset, report = import_files(ws, uploads[:5] + [("broken.gif", broken)], csv=("labels.csv", text.encode()))
    assert dataset.classes == ("a", "b")
    assert skipped(report)["broken.gif"] == "corrupt or truncated image"
    assert "class 'c' has no usable images and was left out" in report.warnings


# --- issue 20: hostile and careless CSVs ---------------------------------------------------------------------


def test_field_over_the_csv_field_limit_is_a_clear_error() -> None:
    text = "file,label\na.png,cat\nb.png," + "x" * (128 * 1024 + 10) + "\n"
    with pytest.raises(DatasetError) as err:
        read_label_csv(text.encode(), "labels.csv")
    message = str(err.value)
    assert message.startswith("labels.csv: line 3:") and "field" in message and "131,072 characters" in message


def test_csv_never_matches_a_file_in_another_folder(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "set"
    for i, c in enumerate(shades(GREEN, 3)):
        write(root / "cats" / f"{i}.png", image_bytes(c))
    for i, c in enumerate(shades(BLUE, 3)):
        write(root / "dogs" / f"d{i}.png", image_bytes(c))
    for i, c in enumerate(shades(RED, 2)):
        write(root / "a" / "same.png" if i == 0 else root / "b" / "same.png", image_bytes(c))
    rows = ["cats/0.png,cat", "cats/1.png,cat", "cats/2.png,cat", "dogs/d0.png,dog", "dogs/d1.png,dog",
            "dogs/d2.png,dog", "dogs/0.png,dog", "same.png,dog"]
    write(root / "labels.csv", ("file,label\n" + "\n".join(rows) + "\n").encode())
    dataset, report = import_path(ws, root / "labels.csv")
    assert dataset.class_counts() == {"cat": 3, "dog": 3}  # the cat cats/0.png is never stored as a dog
    reasons = skipped(report)
    assert reasons["dogs/0.png"].startswith("listed in labels.csv but not found under")
    assert "'cats/0.png' has the same name in another folder; not matched across folders" in reasons["dogs/0.png"]
    assert reasons["same.png"] == "listed in labels.csv but ambiguous: 'a/same.png' and 'b/same.png' have that name"


def test_numeric_spellings_of_one_label_are_warned(ws: Workspace, uploads) -> None:
    rows = ["1", "01", "1.0", "1e0", "2", "2"]
    text = "file,label\n" + "".join(f"img{i}.png,{lab}\n" for i, lab in enumerate(rows))
    dataset, report = import_files(ws, uploads, csv=("labels.csv", text.encode()))
    assert dataset.classes == ("01", "1", "1.0", "1e0", "2")  # kept as written ...
    assert ("class names '01', '1', '1.0' and '1e0' are spellings of the same number but were imported as 4 classes; "
            "fix the labels if they mean one class") in report.warnings  # ... but not silently


def test_utf16_csv_with_bom_is_read(ws: Workspace, uploads) -> None:
    text = "filename,label\n" + "".join(f"img{i}.png,{'chat' if i < 3 else 'thé'}\n" for i in range(6))
    for encoding in ("utf-16", "utf-16-be", "utf-8-sig"):
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        dataset, report = import_files(ws, uploads, csv=("labels.csv", data))
        assert dataset.classes == ("chat", "thé"), encoding
        assert not any("not UTF-8" in w for w in report.warnings), encoding


def test_undecodable_csv_names_the_file_and_the_encoding() -> None:
    text = "filename,label\na.png,cat\n"
    with pytest.raises(DatasetError, match=r"labels.csv looks like UTF-16 without a byte-order mark"):
        read_label_csv(text.encode("utf-16-le"), "labels.csv")
    with pytest.raises(DatasetError, match=r"labels.csv starts with a UTF-16 byte-order mark but is not valid UTF-16"):
        read_label_csv(b"\xff\xfe" + text.encode("utf-16-le") + b"\x00", "labels.csv")


def test_quoted_delimiter_in_the_first_file_name_does_not_fool_the_sniffer() -> None:
    table = read_label_csv(b'"a;b;c.png",cat\n"c;d.png",dog\nplain.png,dog\n', "labels.csv")
    assert table.labels == {"a;b;c.png": "cat", "c;d.png": "dog", "plain.png": "dog"}
    table = read_label_csv(b'"a,b.png";cat\nc.png;dog\n', "labels.csv")
    assert table.labels == {"a,b.png": "cat", "c.png": "dog"}
