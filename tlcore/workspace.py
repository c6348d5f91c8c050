"""The workspace: one folder that holds everything tlcore makes (images, datasets, runs, caches, jobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "TLCORE_WORKSPACE"
DEFAULT_LOCATION = Path.home() / ".tlcore" / "workspace"


@dataclass(frozen=True)
class Workspace:
    """Paths inside a workspace folder. Creating one makes the folders; it never deletes anything."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        for sub in (self.images, self.datasets, self.runs, self.cache, self.jobs, self.uploads, self.tmp):
            sub.mkdir(parents=True, exist_ok=True)

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


def default_workspace(path: str | Path | None = None) -> Workspace:
    """The workspace at ``path``, else ``$TLCORE_WORKSPACE``, else ``~/.tlcore/workspace``."""
    if path is None:
        path = os.environ.get(ENV_VAR) or DEFAULT_LOCATION
    return Workspace(Path(path))
