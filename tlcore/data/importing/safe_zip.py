"""Safe zip reading: the central directory is checked before anything is extracted, members are streamed.

Refused outright (the whole archive, with a :class:`DatasetError` naming the entry or the limit):
entry names with ``..``, absolute or drive paths; more entries than ``max_files``; a declared
uncompressed total above ``max_total_bytes``; an entry whose compression ratio exceeds ``max_ratio``
(image entries are judged by the pixels their header declares instead: a mostly white scan is fine, a few
pixels padded with megabytes are not); a member that turns out larger than it declared while reading. Skipped
with a reason: symlinks, encrypted entries, duplicate names, nested archives, junk (``__MACOSX/``, ``._*``, dotfiles,
``.DS_Store``, ``Thumbs.db``; the rules live in :mod:`tlcore.data.importing.paths`).
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from PIL import Image

from tlcore.data.dataset import Skipped
from tlcore.data.images import IMAGE_EXTENSIONS
from tlcore.data.importing.paths import junk_reason, nested_archive_reason
from tlcore.data.limits import ImportLimits, human_bytes
from tlcore.errors import DatasetError

log = logging.getLogger(__name__)

CHUNK = 1 << 16
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # members up to this size stay in memory while decoded
_EOCD_SIZE = 22
_DRIVE = re.compile(r"^[A-Za-z]:")
_IMAGE_HEADER_BYTES = 256 * 1024  # enough for the size fields of every accepted format (bar far-placed TIFF IFDs)
_IMAGE_METADATA_BYTES = 1 << 20
_HEADER_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError, RuntimeError,
    zipfile.BadZipFile, NotImplementedError,
)  # fmt: skip


def safe_member_name(raw: str, archive: str) -> str:
    """The entry name as a clean relative ``/`` path; refuses ``..``, absolute and drive paths."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise DatasetError(f"{archive}: entry {raw!r} has a NUL character in its name; the archive was not imported")
    if name.startswith("/") or _DRIVE.match(name):
        raise DatasetError(
            f"{archive}: entry {raw!r} has an absolute path; the archive was refused and nothing was extracted"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DatasetError(
            f"{archive}: entry {raw!r} points outside the archive ('..'); the archive was refused and nothing "
            "was extracted"
        )
    return "/".join(parts)


@dataclass(frozen=True)
class ZipMember:
    """One file entry of an archive that is worth reading."""

    info: zipfile.ZipInfo
    path: str  # clean relative path inside the archive (wrapping folder not yet stripped)


@dataclass(frozen=True)
class ZipPlan:
    """What :func:`plan_zip` found in the central directory, before anything was read."""

    members: tuple[ZipMember, ...]
    skipped: tuple[Skipped, ...]
    junk: int
    declared_bytes: int


def declared_entries(fp: BinaryIO) -> int | None:
    """The entry count the end-of-central-directory record declares (zip64 aware), or None if there is none.

    Read before :class:`zipfile.ZipFile` parses the central directory, so a directory claiming millions
    of entries is refused without building millions of objects.
    """
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    tail_len = min(size, _EOCD_SIZE + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD_SIZE > len(tail):
        return None
    total = struct.unpack_from("<H", tail, pos + 10)[0]
    locator = pos - 20
    if total == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        fp.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
        record = fp.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            total = struct.unpack_from("<Q", record, 32)[0]
    return total


def open_zip(source: str | Path | BinaryIO, archive: str, limits: ImportLimits | None = None) -> zipfile.ZipFile:
    """Open a zip, or raise one clear :class:`DatasetError` naming ``archive`` (not a zip, truncated, too many entries).

    With ``limits``, the declared entry count is checked (files and folders, at most twice ``max_files``)
    before the central directory is parsed.
    """
    if limits is not None:
        _refuse_huge_directory(source, archive, limits)
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError, ValueError, zlib.error, NotImplementedError) as e:
        raise DatasetError(
            f"{archive} is not a readable zip archive (not a zip file, or truncated/damaged): {e}"
        ) from None
    except OSError as e:
        raise DatasetError(f"{archive} cannot be read: {e}") from None


def _refuse_huge_directory(source: str | Path | BinaryIO, archive: str, limits: ImportLimits) -> None:
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as f:
                count = declared_entries(f)
        else:
            count = declared_entries(source)
            source.seek(0)
    except OSError as e:
        raise DatasetError(f"{archive} cannot be read: {e}") from None
    if count is not None and count > 2 * limits.max_files:
        raise DatasetError(
            f"{archive} declares {count:,} entries; the limit is {limits.max_files:,} files "
            "(ImportLimits.max_files). Nothing was extracted."
        )


def plan_zip(zf: zipfile.ZipFile, archive: str, limits: ImportLimits) -> ZipPlan:
    """Check the central directory against the limits and sort the entries into read / skip.

    Nothing is extracted; only the first bytes of image entries past ``max_ratio`` are read, for their pixel size.

    Raises:
        DatasetError: path traversal, too many entries, too large in total, or an extreme compression ratio.
    """
    infos = zf.infolist()
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_files:
        raise DatasetError(
            f"{archive} holds {len(files):,} files; the limit is {limits.max_files:,} (ImportLimits.max_files). "
            "Nothing was extracted."
        )
    names = [(info, safe_member_name(info.filename, archive)) for info in infos]
    declared = sum(i.file_size for i in files)
    if declared > limits.max_total_bytes:
        raise DatasetError(
            f"{archive} would unpack to {human_bytes(declared)}; the limit is {human_bytes(limits.max_total_bytes)} "
            "(ImportLimits.max_total_bytes). Nothing was extracted."
        )
    for info, name in names:
        if info.is_dir() or info.file_size < limits.ratio_check_bytes:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio and not image_within_pixel_limits(zf, info, name, limits):
            raise DatasetError(
                f"{archive}: entry {info.filename!r} is compressed {ratio:,.0f}:1 ({human_bytes(info.compress_size)} "
                f"-> {human_bytes(info.file_size)}); the limit is {limits.max_ratio:g}:1 (ImportLimits.max_ratio). "
                "This looks like a zip bomb; nothing was extracted."
            )
    members, skipped, junk, seen = [], [], 0, set()
    for info, name in names:
        if info.is_dir() or not name:
            continue
        reason = junk_reason(name)
        if reason:
            junk += 1
        elif stat.S_ISLNK(info.external_attr >> 16):
            reason = "symbolic link (not followed)"
        elif info.flag_bits & 0x1:
            reason = "encrypted entry (password-protected; not read)"
        elif name in seen:
            reason = "duplicate entry name in the archive (only the first was used)"
        else:
            reason = nested_archive_reason(name)
        seen.add(name)
        if reason:
            skipped.append(Skipped(name, reason))
        else:
            members.append(ZipMember(info, name))
    return ZipPlan(tuple(members), tuple(skipped), junk, declared)


def image_within_pixel_limits(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: ImportLimits) -> bool:
    """True when an image entry's size is explained by the pixels its header declares, within the limits.

    A mostly white scan compresses far past ``max_ratio`` and is still harmless: what it costs to decode is its
    width x height, read here from the first bytes of the entry (nothing else is decompressed). It must be at most
    ``max_pixels``, and the entry no larger than those pixels can fill (8 bytes a pixel, plus 1 MiB of metadata).
    """
    if not name.lower().endswith(tuple(IMAGE_EXTENSIONS)):
        return False
    try:
        with zf.open(info) as src:
            head = src.read(_IMAGE_HEADER_BYTES)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(head)) as img:
                width, height = img.size
    except (*_HEADER_ERRORS, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return False
    pixels = width * height
    return 0 < pixels <= limits.max_pixels and info.file_size <= 8 * pixels + _IMAGE_METADATA_BYTES


class ReadBudget:
    """Bytes still allowed to be read from an archive (never trusting the declared sizes)."""

    def __init__(self, total: int) -> None:
        self.left = total


def read_member(
    zf: zipfile.ZipFile, member: ZipMember, archive: str, budget: ReadBudget, tmp_dir: Path | None = None
) -> IO[bytes]:
    """Stream one member into a spooled temp file, capped by its declared size and the total budget.

    Raises:
        DatasetError: the member produces more bytes than it declared, or than the budget allows.
        zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError: the member's data is damaged.
    """
    cap = min(member.info.file_size, budget.left)
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=tmp_dir)
    n = 0
    try:
        with zf.open(member.info) as src:
            while chunk := src.read(min(CHUNK, cap - n + 1)):
                n += len(chunk)
                if n > cap:
                    what = (
                        f"more data than its declared {human_bytes(member.info.file_size)}"
                        if cap == member.info.file_size
                        else f"past the total limit of {human_bytes(budget.left)} still allowed "
                        "(ImportLimits.max_total_bytes)"
                    )
                    raise DatasetError(f"{archive}: entry {member.path!r} unpacks to {what}; import stopped")
                out.write(chunk)
    except BaseException:
        out.close()
        raise
    budget.left -= n
    out.seek(0)
    return out


__all__ = [
    "ReadBudget",
    "ZipMember",
    "ZipPlan",
    "declared_entries",
    "image_within_pixel_limits",
    "open_zip",
    "plan_zip",
    "read_member",
    "safe_member_name",
]
