"""Import a folder with one subfolder per class, walking it without ever following a symlink."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tlcore.data.dataset import Dataset, ImportReport, Skipped
from tlcore.data.importing.common import ImportBuilder
from tlcore.data.importing.paths import junk_reason, nested_archive_reason, strip_wrapper, under
from tlcore.data.limits import ImportLimits, check_totals
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True)
class FolderListing:
    """What :func:`list_folder` found: regular files, folders, and the entries it skipped."""

    files: list[tuple[str, Path]]  # relative "/" path, absolute path of a regular file
    dirs: list[str]  # relative paths of directories
    skipped: list[tuple[Skipped, bool]]  # (entry, is_junk)
    total_bytes: int


def list_folder(root: Path) -> FolderListing:
    """Walk ``root`` without following symlinks; junk folders are not entered."""
    files: list[tuple[str, Path]] = []
    dirs: list[str] = []
    skipped: list[tuple[Skipped, bool]] = []
    total = 0
    stack = [("", root)]
    while stack:
        rel, folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skipped.append((Skipped(rel or ".", f"folder cannot be read ({e.strerror})"), False))
            continue
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            junk = junk_reason(path)
            if junk:
                skipped.append((Skipped(path + ("/" if entry.is_dir(follow_symlinks=False) else ""), junk), True))
            elif entry.is_symlink():
                skipped.append((Skipped(path, "symbolic link (not followed)"), False))
            elif entry.is_dir(follow_symlinks=False):
                dirs.append(path)
                stack.append((path, Path(entry.path)))
            elif entry.is_file(follow_symlinks=False):
                files.append((path, Path(entry.path)))
                total += entry.stat(follow_symlinks=False).st_size
            else:
                skipped.append((Skipped(path, "not a regular file"), False))
    files.sort()
    return FolderListing(files, sorted(dirs), skipped, total)


def open_nofollow(path: Path) -> BinaryIO:
    """Open a file for reading; a symlink in its place fails instead of being followed."""
    fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
    return os.fdopen(fd, "rb")


def import_folder(
    ws: Workspace,
    path: str | Path,
    name: str | None = None,
    limits: ImportLimits = ImportLimits(),
    *,
    on_event: EventCallback = ignore_event,
    cancel: CancelToken | None = None,
) -> tuple[Dataset, ImportReport]:
    """Import a folder with one subfolder per class (a single wrapping folder is looked through).

    Symlinks (to files or folders) are never followed; files in subfolders of a class folder belong to it.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    listing = list_folder(root)
    check_totals(f"folder {root}", len(listing.files), listing.total_bytes, limits)
    imp = ImportBuilder(ws, root.name or str(root), limits, on_event, cancel)
    for entry, junk in listing.skipped:
        (imp.skip_junk if junk else imp.skip)(entry.name, entry.reason)
    rels, prefix = strip_wrapper([rel for rel, _ in listing.files])
    for d in listing.dirs:
        inner = under(d, prefix)
        if inner and "/" not in inner:
            imp.class_folders.add(inner)
    with imp.undoing():  # a failure part-way removes the images this import stored
        imp.start(len(rels))
        for rel, (original, file_path) in zip(rels, listing.files):
            imp.step()
            nested = nested_archive_reason(rel)
            if nested:
                imp.skip(original, nested)
            elif "/" not in rel:
                imp.skip(original, "not inside a class folder")
            else:
                try:
                    fp = open_nofollow(file_path)
                except OSError as e:
                    imp.skip(original, f"cannot be read ({e.strerror})")
                    continue
                with fp:
                    imp.add_file(rel.split("/", 1)[0], original, fp)
        return imp.finish(name or root.name or "dataset")
