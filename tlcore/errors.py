"""Exceptions raised by tlcore. Every message names the file or setting at fault and the problem."""

from __future__ import annotations


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
