"""The workspace: one folder that holds everything tlcore makes (images, datasets, runs, caches, jobs).

``Workspace(root)`` makes the folders (the app, jobs, and the commands that write); ``Workspace(root, create=False)``
(or :meth:`Workspace.open`) only names them, for commands that read: they must not leave an empty workspace behind
a mistyped path. Either way a root that is empty, a file, or a folder that cannot be made raises
:class:`WorkspaceError` naming the path.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import InitVar, dataclass
from pathlib import Path

from tlcore.errors import TlcoreError

ENV_VAR = "TLCORE_WORKSPACE"
DEFAULT_LOCATION = Path.home() / ".tlcore" / "workspace"


class WorkspaceError(TlcoreError):
    """The workspace folder cannot be used: empty path, a file, read-only, or cannot be created."""


@dataclass(frozen=True)
class Workspace:
    """Paths inside a workspace folder. Creating one makes the folders unless ``create=False``; it never deletes."""

    root: Path
    create: InitVar[bool] = True  # make the root and its folders (False: only name them, for read-only use)

    def __post_init__(self, create: bool) -> None:
        if isinstance(self.root, str) and not self.root.strip():
            raise WorkspaceError("the workspace path is empty: give a folder (--workspace DIR or $TLCORE_WORKSPACE)")
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"{self.root}: is a file, not a workspace folder")
        if create:
            self._make_folders()

    @classmethod
    def open(cls, root: str | Path) -> "Workspace":
        """The workspace at ``root`` without creating anything (see :meth:`exists`)."""
        return cls(root, create=False)

    def exists(self) -> bool:
        """True when the workspace folder is there (a read-only command has something to read)."""
        return self.root.is_dir()

    def check_writable(self) -> None:
        """Raise :class:`WorkspaceError` unless a file can be written in the workspace (read-only folder or disk).

        Writes and removes one empty scratch file in :attr:`tmp` (or the root, before the folders are made), so it
        also catches a read-only mount when running as root (where permission bits do not stop a write).
        """
        try:
            with tempfile.TemporaryFile(dir=self.tmp if self.tmp.is_dir() else self.root, prefix="write-check-"):
                pass
        except OSError as exc:
            raise WorkspaceError(f"{self.root}: the workspace folder is not writable ({_reason(exc)})") from None

    def _make_folders(self) -> None:
        for sub in (self.images, self.datasets, self.runs, self.cache, self.jobs, self.uploads, self.tmp):
            try:
                sub.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise WorkspaceError(f"{sub}: is a file, but the workspace needs a folder there") from None
            except OSError as exc:
                where = self.root if not self.root.is_dir() else sub
                raise WorkspaceError(f"{where}: cannot create the workspace folder ({_reason(exc)})") from None

    @property
    def images(self) -> Path:
        """Decoded, checked images stored under their content hash."""
        return self.root / "images"

    @property
    def datasets(self) -> Path:
        """One folder per dataset id with ``manifest.json`` and ``report.json``."""
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        """One folder per run id; see :mod:`tlcore.runs`."""
        return self.root / "runs"

    @property
    def cache(self) -> Path:
        """Feature and prefix caches; safe to delete at any time."""
        return self.root / "cache"

    @property
    def jobs(self) -> Path:
        """Background job state; see :mod:`tlcore.jobs`."""
        return self.root / "jobs"

    @property
    def uploads(self) -> Path:
        """Uploaded bytes spooled to disk before import."""
        return self.root / "uploads"

    @property
    def tmp(self) -> Path:
        """Scratch space for extraction and half-finished writes (same filesystem as the rest)."""
        return self.root / "tmp"

    @property
    def index_db(self) -> Path:
        """SQLite index of runs."""
        return self.root / "index.sqlite"

    def image_path(self, content_hash: str) -> Path:
        """Where the stored image with this content hash lives."""
        return self.images / content_hash[:2] / f"{content_hash}.png"

    def contains(self, path: str | Path) -> bool:
        """True when ``path`` resolves to somewhere inside the workspace."""
        try:
            Path(path).resolve().relative_to(self.root)
        except ValueError:
            return False
        return True


def workspace_path(path: str | Path | None = None) -> Path:
    """Where the workspace is: ``path``, else ``$TLCORE_WORKSPACE``, else ``~/.tlcore/workspace``.

    Raises:
        WorkspaceError: ``path`` or ``$TLCORE_WORKSPACE`` is set but empty (it would mean the current folder).
    """
    if path is None:
        env = os.environ.get(ENV_VAR)
        if env is not None and not env.strip():
            raise WorkspaceError(f"${ENV_VAR} is set but empty: give it a folder, or unset it for {DEFAULT_LOCATION}")
        path = env or DEFAULT_LOCATION
    elif not str(path).strip():
        raise WorkspaceError("--workspace is empty: give a folder (it would otherwise be the current folder)")
    return Path(path)


def default_workspace(path: str | Path | None = None, create: bool = True) -> Workspace:
    """The workspace at ``path``, else ``$TLCORE_WORKSPACE``, else ``~/.tlcore/workspace`` (see
    :func:`workspace_path`); ``create=False`` makes nothing on disk.

    Raises:
        WorkspaceError: the path is empty, is a file, or (``create``) its folders cannot be made.
    """
    return Workspace(workspace_path(path), create=create)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
