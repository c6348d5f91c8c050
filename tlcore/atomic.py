"""Atomic file writes: write a temp file in the same folder, fsync, then rename over the target.

A crash (or a full disk) part-way through never leaves a half-written file under the final name:
readers see either the previous version or the new one. A full disk becomes a :class:`~tlcore.errors.DiskFull`
(:func:`disk_full` builds one naming the folder, the space needed and the space free; :func:`is_disk_full`
recognises the error a full disk gives).
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

from tlcore.errors import DiskFull

NO_SPACE = "No space left on device"
_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")  # numpy's tofile() on a full disk: no errno


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` is what a write on a full disk (or over a disk quota) raises."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return exc.errno is None and bool(_SHORT_WRITE.match(str(exc)))


def free_space(folder: str | Path) -> int | None:
    """Bytes free for ordinary writers on the disk that holds ``folder`` (or its nearest existing parent)."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def human_size(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} TiB"


def disk_full(folder: str | Path, what: str, needed: int | None = None, *, at_least: bool = False,
              undone: str = "") -> DiskFull:
    """A :class:`DiskFull` for ``what`` (e.g. "saving run X") that did not fit in ``folder``.

    Build it after the failed step was cleaned up, so the free space it states is what there is now.

    Args:
        needed: bytes the step needs (an estimate, or a lower bound with ``at_least``); None if unknown.
        undone: a sentence saying what was removed or kept.
    """
    folder = Path(folder)
    free = free_space(folder)
    room = f"{human_size(free)} free" if free is not None else "its free space could not be read"
    if needed:
        told = f"needs {'at least' if at_least else 'about'} {human_size(needed)} in {folder}, which has {room}"
    else:
        told = f"did not fit in {folder} ({room})"
    after = f" {undone}" if undone else ""
    message = (f"{NO_SPACE}: {what} {told}.{after} Free some space on that disk (or move the workspace to a larger "
               "one) and try again.")
    return DiskFull(message, folder, needed, free)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None], size: int | None = None) -> Path:
    """Call ``write(fileobj)`` on a temp file beside ``path`` and rename it into place.

    Raises:
        DiskFull: the disk filled up; the temp file is gone and ``path`` is as it was. ``size`` (bytes, when the
            caller knows it) is the space it states is needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise disk_full(path.parent, f"writing {path.name}", size,
                            undone="Nothing was written under that name (an earlier version is unchanged).") from exc
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return atomic_write(path, lambda f: f.write(data), len(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Atomically replace ``path`` with ``obj`` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def remove_stale_temp_files(folder: str | Path) -> int:
    """Delete temp files left by writes that crashed (``.*.tmp``) below ``folder``; return how many."""
    n = 0
    for p in Path(folder).rglob(".*.tmp"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n
