"""Builders for good and bad files the data tests import: images, class folders, crafted zips, PNG bombs."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

from PIL import Image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def image_bytes(
    colour: tuple[int, ...] = RED, size: tuple[int, int] = (16, 16), fmt: str = "PNG", mode: str = "RGB", **save
) -> bytes:
    """A solid-colour image encoded as ``fmt``."""
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, fmt, **save)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (making folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def class_folder(root: Path, spec: dict[str, Iterable[tuple[int, int, int]]], size: int = 16) -> Path:
    """``root/<class>/<i>.png`` for each colour listed under each class."""
    for cls, colours in spec.items():
        for i, colour in enumerate(colours):
            write(root / cls / f"{i}.png", image_bytes(colour, (size, size)))
    return root


def shades(base: tuple[int, int, int], n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct colours near ``base`` (distinct content, so distinct hashes)."""
    return [tuple(min(255, max(0, c + (i if k == 1 else 0))) for k, c in enumerate(base)) for i in range(n)]


def make_zip(entries: Iterable[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding ``entries`` exactly as named (duplicates allowed)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def symlink_info(name: str) -> zipfile.ZipInfo:
    """A zip entry marked as a Unix symlink (external_attr mode S_IFLNK)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def patch_central(data: bytes, name: str, *, flag_or: int = 0, file_size: int | None = None) -> bytes:
    """Edit the central-directory (and local) header of entry ``name``: set flag bits, fake its declared size."""
    buf = bytearray(data)
    encoded = name.encode()
    pos = 0
    while (pos := buf.find(b"PK\x01\x02", pos)) != -1:
        n_len = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46 : pos + 46 + n_len]) == encoded:
            flags = struct.unpack_from("<H", buf, pos + 8)[0]
            struct.pack_into("<H", buf, pos + 8, flags | flag_or)
            if file_size is not None:
                struct.pack_into("<I", buf, pos + 24, file_size)
            local = struct.unpack_from("<I", buf, pos + 42)[0]
            lflags = struct.unpack_from("<H", buf, local + 6)[0]
            struct.pack_into("<H", buf, local + 6, lflags | flag_or)
            if file_size is not None:
                struct.pack_into("<I", buf, local + 22, file_size)
        pos += 4
    return bytes(buf)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes of PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def psd_header() -> bytes:
    """The start of a Photoshop file (format refused by its signature)."""
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16, 16, 8, 3) + b"\x00" * 64


def stored_files(root: Path) -> list[Path]:
    """Every file below ``root`` (e.g. a workspace's images folder)."""
    return [p for p in root.rglob("*") if p.is_file()]


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect/></svg>\n'


def good_entries(prefix: str = "") -> list[tuple[str, bytes]]:
    """Zip entries of two class folders, ``red/`` and ``blue/``, 3 images each (under ``prefix``)."""
    return [(f"{prefix}red/{i}.png", image_bytes(c)) for i, c in enumerate(shades(RED, 3))] + [
        (f"{prefix}blue/{i}.png", image_bytes(c)) for i, c in enumerate(shades(BLUE, 3))
    ]


def skipped(report) -> dict[str, str]:
    """An import report's skips as ``{name: reason}``."""
    return {s.name: s.reason for s in report.skipped}
