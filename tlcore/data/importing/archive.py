"""Import a zip of class folders (on disk or as bytes), read through :mod:`tlcore.data.importing.safe_zip`."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from tlcore.data.dataset import Dataset, ImportReport
from tlcore.data.importing.common import ImportBuilder, file_stem
from tlcore.data.importing.paths import junk_reason, strip_wrapper, under
from tlcore.data.importing.safe_zip import ReadBudget, open_zip, plan_zip, read_member, safe_member_name
from tlcore.data.limits import ImportLimits, check_totals
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace

_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def feed_zip(imp: ImportBuilder, source: str | Path | BinaryIO, archive: str) -> None:
    """Feed the class folders of a zip into ``imp``; junk, odd and damaged entries become skips."""
    limits = imp.limits
    with open_zip(source, archive, limits) as zf:
        plan = plan_zip(zf, archive, limits)
        for s in plan.skipped:
            if junk_reason(s.name):
                imp.skip_junk(s.name, s.reason)
            else:
                imp.skip(s.name, s.reason)
        rels, prefix = strip_wrapper([m.path for m in plan.members])
        for info in zf.infolist():
            inner = under(safe_member_name(info.filename, archive), prefix) if info.is_dir() else None
            top = inner.split("/", 1)[0] if inner else ""
            if top and not junk_reason(top):
                imp.class_folders.add(top)
        budget = ReadBudget(limits.max_total_bytes)
        imp.start(len(rels))
        for member, rel in zip(plan.members, rels):
            imp.step()
            if "/" not in rel:
                imp.skip(member.path, "not inside a class folder")
                continue
            try:
                fp = read_member(zf, member, archive, budget, imp.ws.tmp)
            except _ZIP_MEMBER_ERRORS as e:
                imp.skip(member.path, f"damaged entry in the archive ({e})")
                continue
            with fp:
                imp.add_file(rel.split("/", 1)[0], member.path, fp)


def import_zip(
    ws: Workspace,
    path_or_bytes: str | Path | bytes,
    name: str | None = None,
    limits: ImportLimits = ImportLimits(),
    *,
    archive_name: str | None = None,
    on_event: EventCallback = ignore_event,
    cancel: CancelToken | None = None,
) -> tuple[Dataset, ImportReport]:
    """Import a zip of class folders (a single wrapping top folder is stripped).

    Args:
        ws: the workspace.
        path_or_bytes: the archive on disk, or its bytes.
        name: dataset name (default: the archive's name without ``.zip``).
        limits: import limits; the central directory is checked against them before anything is read.
        archive_name: how to call the archive in messages (default: its file name, or "upload.zip").
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        archive = archive_name or "upload.zip"
        size = len(path_or_bytes)
        source: str | Path | BinaryIO = io.BytesIO(bytes(path_or_bytes))
    else:
        source = Path(path_or_bytes)
        archive = archive_name or source.name
        try:
            size = source.stat().st_size
        except OSError as e:
            raise DatasetError(f"{archive} cannot be read ({e.strerror})") from None
    check_totals(archive, 1, size, limits)
    imp = ImportBuilder(ws, archive, limits, on_event, cancel)
    with imp.undoing():  # a failure part-way removes the images this import stored
        feed_zip(imp, source, archive)
        return imp.finish(name or file_stem(archive))
