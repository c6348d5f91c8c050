"""Exceptions raised by tlcore. Every message names the file or setting at fault and the problem."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any


class TlcoreError(Exception):
    """Base class for errors a user can act on; the message is shown to them as is."""


class DatasetError(TlcoreError, ValueError):
    """A dataset (or an upload) cannot be imported, split or folded as asked."""


class WeightsUnavailable(TlcoreError):
    """Pretrained weights were asked for but cannot be had (offline, unknown name, bad file)."""


class UnsafeModelFile(TlcoreError):
    """A model file would need unsafe unpickling, or names an architecture we do not know."""


class RunNotFound(TlcoreError, KeyError):
    """No run with that id in the workspace."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "run not found"


class Cancelled(TlcoreError):
    """Work stopped because its cancel flag was set."""


class DiskFull(TlcoreError, OSError):
    """The disk ran out of space while something was written; what that step wrote has been removed.

    Also an ``OSError`` (``errno.ENOSPC``), so code that handles a failed write still does. Attributes:
    ``folder`` (where the write went), ``needed`` (bytes the step needs, an estimate; None if unknown) and
    ``free`` (bytes free there after the clean-up; None if unknown).
    """

    def __init__(self, message: str, folder: Path | None = None, needed: int | None = None,
                 free: int | None = None) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message, self.folder, self.needed, self.free = message, folder, needed, free

    def __str__(self) -> str:  # OSError would prefix "[Errno 28]"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # OSError pickles (errno, strerror); keep our fields instead
        return type(self), (self.message, self.folder, self.needed, self.free)
