"""Safe zip reading: traversal refused, bombs refused before extraction, odd entries skipped with reasons."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.data.builders import (
    RED,
    WHITE,
    good_entries,
    image_bytes,
    make_zip,
    patch_central,
    skipped,
    stored_files,
    symlink_info,
)
from tlcore.data import ImportLimits, import_path, import_zip
from tlcore.data.importing.safe_zip import ReadBudget, ZipMember, declared_entries, read_member
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def assert_nothing_extracted(ws: Workspace) -> None:
    assert stored_files(ws.images) == []
    assert stored_files(ws.tmp) == []
    assert list(ws.datasets.iterdir()) == []


@pytest.mark.parametrize(
    "evil", ["../../victim/evil.png", "red/../../victim/evil.png", "/etc/evil.png", "C:\\evil.png"]
)
def test_traversal_and_absolute_paths_refuse_the_whole_archive(ws: Workspace, tmp_path: Path, evil: str) -> None:
    data = make_zip(good_entries() + [(evil, image_bytes(RED))])
    with pytest.raises(DatasetError) as err:
        import_zip(ws, data, archive_name="evil.zip")
    assert "evil.zip" in str(err.value) and repr(evil) in str(err.value)
    assert "refused" in str(err.value)
    assert not (tmp_path / "victim").exists() and not (ws.root.parent / "victim").exists()
    assert_nothing_extracted(ws)


def test_symlink_entries_are_skipped(ws: Workspace) -> None:
    data = make_zip(good_entries() + [(symlink_info("red/link.png"), b"/etc/passwd")])
    _, report = import_zip(ws, data)
    assert skipped(report)["red/link.png"] == "symbolic link (not followed)"


def test_declared_size_too_large_is_refused_before_extraction(ws: Workspace) -> None:
    data = patch_central(make_zip(good_entries()), "red/0.png", file_size=0xFFFFFFF0)  # claims ~4 GiB
    with pytest.raises(DatasetError) as err:
        import_zip(ws, data, archive_name="big.zip")
    text = str(err.value)
    assert "big.zip would unpack to 4.0 GiB" in text and "limit is 2.0 GiB (ImportLimits.max_total_bytes)" in text
    assert_nothing_extracted(ws)


def test_total_size_limit_is_configurable(ws: Workspace) -> None:
    with pytest.raises(DatasetError, match=r"ImportLimits.max_total_bytes"):
        import_zip(ws, make_zip(good_entries()), limits=ImportLimits(max_total_bytes=200))
    assert_nothing_extracted(ws)


def test_extreme_compression_ratio_is_refused_before_extraction(ws: Workspace) -> None:
    data = make_zip(good_entries() + [("red/zeros.bmp", b"\x00" * (4 << 20))])
    assert len(data) < 100_000
    with pytest.raises(DatasetError) as err:
        import_zip(ws, data, archive_name="bomb.zip")
    text = str(err.value)
    assert "bomb.zip: entry 'red/zeros.bmp' is compressed" in text and "(ImportLimits.max_ratio)" in text
    assert_nothing_extracted(ws)


def test_too_many_entries_is_refused_before_extraction(ws: Workspace) -> None:
    with pytest.raises(DatasetError) as err:
        import_zip(ws, make_zip(good_entries()), archive_name="many.zip", limits=ImportLimits(max_files=5))
    assert "many.zip holds 6 files; the limit is 5 (ImportLimits.max_files)" in str(err.value)
    assert_nothing_extracted(ws)


def test_central_directory_claiming_huge_entry_count_is_refused_before_parsing(ws: Workspace) -> None:
    data = bytearray(make_zip(good_entries()))
    eocd = data.rfind(b"PK\x05\x06")
    assert declared_entries(io.BytesIO(bytes(data))) == 6
    data[eocd + 8 : eocd + 12] = (60_000).to_bytes(2, "little") * 2  # entries on this disk, entries in total
    with pytest.raises(DatasetError) as err:
        import_zip(ws, bytes(data), archive_name="claims.zip", limits=ImportLimits(max_files=1000))
    assert "claims.zip declares 60,000 entries; the limit is 1,000 files (ImportLimits.max_files)" in str(err.value)
    assert_nothing_extracted(ws)


def test_nested_archives_duplicates_and_encrypted_entries_are_reported(ws: Workspace) -> None:
    inner = make_zip(good_entries())
    entries = good_entries() + [
        ("red/more.zip", inner),
        ("red/more.tar.gz", b"\x1f\x8b" + b"\x00" * 30),
        ("blue/x.7z", b"7z\xbc\xaf\x27\x1c"),
        ("blue/0.png", image_bytes((1, 2, 3))),  # same name again
        ("blue/secret.png", image_bytes((9, 9, 9))),
    ]
    data = patch_central(make_zip(entries), "blue/secret.png", flag_or=0x1)
    dataset, report = import_zip(ws, data)
    reasons = skipped(report)
    assert reasons["red/more.zip"].startswith("nested archive")
    assert reasons["red/more.tar.gz"].startswith("nested archive")
    assert reasons["blue/x.7z"].startswith("nested archive")
    assert reasons["blue/0.png"] == "duplicate entry name in the archive (only the first was used)"
    assert reasons["blue/secret.png"].startswith("encrypted entry")
    assert len(dataset) == 6


@pytest.mark.parametrize("damage", ["not a zip", "truncated"])
def test_not_a_zip_or_truncated_is_one_clear_message(ws: Workspace, tmp_path: Path, damage: str) -> None:
    data = b"just some text, not an archive" if damage == "not a zip" else make_zip(good_entries())[:300]
    path = tmp_path / "photos.zip"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=r"^photos.zip is not a readable zip archive"):
        import_path(ws, path)


def test_damaged_member_is_skipped_and_the_rest_imports(ws: Workspace) -> None:
    data = bytearray(make_zip(good_entries() + [("red/bad.png", image_bytes((7, 7, 7), (64, 64)))]))
    start = data.find(b"red/bad.png") + len("red/bad.png") + 10
    data[start : start + 20] = b"\x55" * 20  # corrupt the compressed data (CRC / deflate errors)
    dataset, report = import_zip(ws, bytes(data))
    assert skipped(report)["red/bad.png"].startswith("damaged entry in the archive")
    assert len(dataset) == 6


def test_member_that_lies_about_its_size_is_not_trusted(ws: Workspace) -> None:
    data = patch_central(make_zip(good_entries(), zipfile.ZIP_STORED), "red/0.png", file_size=10)
    dataset, report = import_zip(ws, data)
    assert skipped(report)["red/0.png"].startswith("damaged entry in the archive")  # only 10 bytes were read
    assert len(dataset) == 5


def test_read_member_stops_at_the_budget(ws: Workspace) -> None:
    data = make_zip([("red/0.png", b"x" * 5000)])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        member = ZipMember(zf.infolist()[0], "red/0.png")
        with pytest.raises(DatasetError, match=r"'red/0.png' unpacks to past the total limit"):
            read_member(zf, member, "a.zip", ReadBudget(1000))
        budget = ReadBudget(10_000)
        with read_member(zf, member, "a.zip", budget) as fp:
            assert fp.read() == b"x" * 5000
        assert budget.left == 5000


def white_scan_bmp(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A mostly white scan saved as BMP (about 3.2 MB, compresses far past ImportLimits.max_ratio)."""
    img = Image.new("RGB", size, WHITE)
    for x in range(100, 1100, 7):
        img.putpixel((x, 450), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "BMP")
    return buf.getvalue()


def test_mostly_white_bmp_scan_is_judged_by_its_pixels_not_its_ratio(ws: Workspace) -> None:
    scan = white_scan_bmp()
    data = make_zip(good_entries() + [("red/scan.bmp", scan)])
    assert len(scan) > 3_000_000 and len(scan) / len(data) > ImportLimits().max_ratio
    dataset, report = import_zip(ws, data, archive_name="scans.zip")
    assert "red/scan.bmp" in {r.source_name for r in dataset.records} and not report.skipped


def test_image_member_larger_than_its_pixels_explain_is_still_a_bomb(ws: Workspace) -> None:
    padded = image_bytes(RED, fmt="BMP") + b"\x00" * (4 << 20)
    with pytest.raises(DatasetError, match=r"bomb.zip: entry 'red/padded.bmp' is compressed .*ImportLimits.max_ratio"):
        import_zip(ws, make_zip(good_entries() + [("red/padded.bmp", padded)]), archive_name="bomb.zip")
    with pytest.raises(DatasetError, match=r"entry 'red/scan.bmp' is compressed .*ImportLimits.max_ratio"):
        import_zip(ws, make_zip(good_entries() + [("red/scan.bmp", white_scan_bmp())]),
                   limits=ImportLimits(max_pixels=1_000_000))
    assert_nothing_extracted(ws)
