"""Datasets in a workspace: records, manifest and import report on disk, stored images by content hash.

Layout: images at ``ws.image_path(hash)`` (PNG, RGB); ``ws.datasets/<id>/manifest.json`` and
``ws.datasets/<id>/report.json``. The id is derived from the class names and the sorted
``(hash, class)`` pairs only, so importing the same data twice gives the same id whatever the file names
or the time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image

from tlcore.atomic import atomic_write_json
from tlcore.data.images import CheckedImage, image_hash, to_rgb
from tlcore.data.readback import DamagedDataset, manifest_problem, read_json_file, report_problem
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
REPORT = "report.json"
MANIFEST_FORMAT = 1
_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")  # the same pattern is checked in tlcore.data.readback
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError)


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset."""

    hash: str  # sha256 hex of the stored, normalised image; also its storage name
    label: int  # index into Dataset.classes
    source_name: str  # the file's name/relative path as uploaded: metadata only, never used as a path
    width: int
    height: int


@dataclass(frozen=True)
class Dataset:
    """An imported dataset: sorted class names and records sorted by (class, source_name)."""

    id: str  # 16 hex chars, derived from classes + sorted (hash, class) pairs only
    name: str
    classes: tuple[str, ...]  # sorted, NFC-normalised class names
    records: tuple[ImageRecord, ...]
    created: float = 0.0  # Unix time of the first import; not part of the id

    @property
    def labels(self) -> np.ndarray:
        """Label index of every record (int64)."""
        return np.fromiter((r.label for r in self.records), dtype=np.int64, count=len(self.records))

    @property
    def hashes(self) -> list[str]:
        """Content hash of every record, in record order."""
        return [r.hash for r in self.records]

    def class_counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Skipped:
    """A file the import left out, and why."""

    name: str  # file name as uploaded
    reason: str  # "not an image", "corrupt or truncated image", "too small (4x4 px, minimum 8)", ...


@dataclass(frozen=True)
class ImportReport:
    """What an import did: how many images went in, every file left out with its reason, warnings."""

    dataset_id: str
    imported: int
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]  # duplicates, imbalance, downscaled photos, empty class folders, ...
    class_counts: dict[str, int]
    junk: int = 0  # how many of the skipped files were junk (__MACOSX, .DS_Store, Thumbs.db, dotfiles)
    source: str = ""  # what was imported (folder, archive or CSV name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dataset_id": self.dataset_id,
            "imported": self.imported,
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
            "class_counts": dict(self.class_counts),
            "junk": self.junk,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: naming the first missing key or wrong type (the data is read back, so untrusted).
        """
        problem = report_problem(data)
        if problem:
            raise ValueError(problem)
        skipped, warnings = data.get("skipped", []), data.get("warnings", [])
        counts = data.get("class_counts", {})
        return cls(
            dataset_id=data["dataset_id"],
            imported=data["imported"],
            skipped=tuple(Skipped(x["name"], x["reason"]) for x in skipped),
            warnings=tuple(warnings),
            class_counts={str(k): v for k, v in counts.items()},
            junk=data.get("junk", 0),
            source=data.get("source", ""),
        )


def dataset_id(classes: Iterable[str], pairs: Iterable[tuple[str, str]]) -> str:
    """16 hex chars from the class names and the sorted ``(hash, class name)`` pairs (repeats count)."""
    payload = {"classes": sorted(classes), "images": sorted([h, c] for h, c in pairs)}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dataset_dir(ws: Workspace, dataset_id_: str) -> Path:
    """The folder of one dataset; refuses anything that is not a dataset id (so it is never a path)."""
    if not isinstance(dataset_id_, str) or not _ID_RE.match(dataset_id_):
        raise DatasetError(f"{dataset_id_!r} is not a dataset id (16 lowercase hex characters)")
    return ws.datasets / dataset_id_


def manifest_to_dict(dataset: Dataset) -> dict[str, Any]:
    """The manifest as a JSON-ready dict."""
    return {
        "format": MANIFEST_FORMAT,
        "id": dataset.id,
        "name": dataset.name,
        "created": dataset.created,
        "classes": list(dataset.classes),
        "class_counts": dataset.class_counts(),
        "records": [
            {"hash": r.hash, "label": r.label, "source_name": r.source_name, "width": r.width, "height": r.height}
            for r in dataset.records
        ],
    }


def manifest_from_dict(data: dict[str, Any], where: str = "manifest") -> Dataset:
    """Inverse of :func:`manifest_to_dict`; raises :class:`DatasetError` naming ``where`` if malformed.

    Nothing is coerced: a manifest is read back from disk, so every key must be there with its type.
    """
    problem = manifest_problem(data, MANIFEST_FORMAT)
    if problem:
        raise DatasetError(f"{where} is malformed: {problem}")
    classes = data["classes"]
    records = [ImageRecord(r["hash"], r["label"], r["source_name"], r["width"], r["height"]) for r in data["records"]]
    return Dataset(data["id"], data["name"], tuple(classes), tuple(records), float(data.get("created", 0.0)))


def save_dataset(ws: Workspace, dataset: Dataset) -> Path:
    """Write ``manifest.json`` atomically; returns its path."""
    return atomic_write_json(dataset_dir(ws, dataset.id) / MANIFEST, manifest_to_dict(dataset))


def has_dataset(ws: Workspace, dataset_id_: str) -> bool:
    """True when a manifest for that id exists."""
    return (dataset_dir(ws, dataset_id_) / MANIFEST).is_file()


def load_dataset(ws: Workspace, dataset_id: str) -> Dataset:
    """Read a dataset's manifest, checked.

    Raises:
        DatasetError: there is none, or it is unreadable or malformed; the message names the dataset and the file.
    """
    path = dataset_dir(ws, dataset_id) / MANIFEST
    if not path.exists():
        raise DatasetError(f"no dataset {dataset_id} in workspace {ws.root} ({path} does not exist)")
    data = read_json_file(path, f"dataset {dataset_id} is damaged: {MANIFEST}")
    dataset = manifest_from_dict(data, f"dataset {dataset_id} is damaged: {path}")
    if dataset.id != dataset_id:
        raise DatasetError(f"dataset {dataset_id} is damaged: {path} names another dataset ({dataset.id[:40]!r})")
    return dataset


def scan_datasets(ws: Workspace) -> tuple[list[Dataset], list[DamagedDataset]]:
    """The datasets that load (newest first) and the damaged ones (by id), reading every manifest and report.

    A folder (or file) named like a dataset id whose manifest is missing, unreadable or malformed is damaged; a
    dataset whose import report alone is unreadable is listed in both (``usable=True``). Nothing is deleted.
    """
    found, broken = [], []
    for folder in sorted(ws.datasets.iterdir()):
        if not _ID_RE.match(folder.name):
            continue
        try:
            if not folder.is_dir():
                raise DatasetError(f"dataset {folder.name} is damaged: {folder} is a file, not a dataset folder")
            if not (folder / MANIFEST).exists():
                raise DatasetError(f"dataset {folder.name} is damaged: {MANIFEST} is missing ({folder / MANIFEST})")
            dataset = load_dataset(ws, folder.name)
        except DatasetError as e:
            log.warning("%s", e)
            broken.append(DamagedDataset(folder.name, folder / MANIFEST, str(e)))
            continue
        found.append(dataset)
        if os.path.lexists(folder / REPORT):
            try:
                load_report(ws, folder.name)
            except DatasetError as e:
                log.warning("%s", e)
                broken.append(DamagedDataset(folder.name, folder / REPORT, str(e), usable=True))
    return sorted(found, key=lambda d: (-d.created, d.name, d.id)), broken


def list_datasets(ws: Workspace) -> list[Dataset]:
    """All datasets that load, newest first; damaged ones are left out (see :func:`damaged_datasets`)."""
    return scan_datasets(ws)[0]


def damaged_datasets(ws: Workspace) -> list[DamagedDataset]:
    """Dataset folders whose manifest (or only the import report: ``usable``) cannot be read, with the reason."""
    return scan_datasets(ws)[1]


def save_report(ws: Workspace, report: ImportReport) -> Path:
    """Write ``report.json`` beside the manifest, atomically."""
    return atomic_write_json(dataset_dir(ws, report.dataset_id) / REPORT, report.to_dict())


def load_report(ws: Workspace, dataset_id: str) -> ImportReport:
    """Read the import report of a dataset, checked.

    Raises:
        DatasetError: there is none, or it is unreadable or malformed; the message names the dataset and the file.
    """
    path = dataset_dir(ws, dataset_id) / REPORT
    if not path.exists():
        raise DatasetError(f"no import report for dataset {dataset_id} ({path} does not exist)")
    what = f"dataset {dataset_id}: the import report {REPORT}"
    data = read_json_file(path, what)
    try:
        report = ImportReport.from_dict(data)
    except ValueError as e:
        raise DatasetError(f"{what} is malformed: {e} ({path})") from None
    if report.dataset_id != dataset_id:
        raise DatasetError(f"{what} names another dataset ({report.dataset_id[:40]!r}); {path}")
    return report


def store_image(ws: Workspace, checked: CheckedImage, repaired: list[str] | None = None) -> Path:
    """Save the image as PNG under its hash unless an intact copy is there; a damaged copy is written again.

    An existing file is verified (a regular file, not empty, decoding to the content hash its name says). A temp
    file in the same folder is renamed into place (no fsync: the name is the content, so a lost write is redone by
    the next import and a half-written file never carries the final name).

    Args:
        repaired: when given, what was wrong with a damaged stored copy is appended to it once it was replaced.
    """
    path = ws.image_path(checked.hash)
    if path.exists() or path.is_symlink():
        problem = stored_image_problem(path, checked.hash)
        if problem is None:
            return path
        if path.is_dir() and not path.is_symlink():
            raise DatasetError(f"{path} is a folder where the stored image {checked.hash} belongs; remove it and "
                               "import again")
        log.warning("rewriting damaged stored image %s: %s", path, problem)
        if repaired is not None:
            repaired.append(problem)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{checked.hash[:12]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            checked.image.save(f, format="PNG", compress_level=4)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def stored_image_problem(path: Path, hash: str) -> str | None:
    """What is wrong with a stored image file (empty, unreadable, content not matching ``hash``), or None."""
    try:
        if path.is_symlink() or not path.is_file():
            return "not a regular file"
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as img:
            img.load()
            rgb = to_rgb(img) if img.mode != "RGB" else img
            actual = image_hash(rgb)
    except _READ_ERRORS as e:
        return f"cannot be decoded ({e})"
    return None if actual == hash else "content does not match its hash"


def load_image(ws: Workspace, hash: str) -> Image.Image:
    """The stored RGB image with this content hash, verified against the hash.

    Raises:
        DatasetError: the hash is malformed, the file is missing, unreadable, or its content does not match.
    """
    if not isinstance(hash, str) or not _HASH_RE.match(hash):
        raise DatasetError(f"{hash!r} is not an image hash (64 lowercase hex characters)")
    path = ws.image_path(hash)
    try:
        with Image.open(path) as img:
            img.load()
            image = to_rgb(img) if img.mode != "RGB" else img.copy()
    except FileNotFoundError:
        raise DatasetError(f"image {hash} is missing from the workspace ({path}); import the dataset again") from None
    except _READ_ERRORS as e:
        raise DatasetError(f"stored image {path} cannot be read ({e}); import the dataset again") from e
    if image_hash(image) != hash:
        raise DatasetError(
            f"stored image {path} is damaged: its content does not match its name (the content hash); "
            "import the dataset again to repair it"
        )
    return image


def new_dataset(name: str, classes: tuple[str, ...], records: tuple[ImageRecord, ...]) -> Dataset:
    """A :class:`Dataset` with its id computed from the content and ``created`` set to now."""
    did = dataset_id(classes, ((r.hash, classes[r.label]) for r in records))
    return Dataset(did, name, classes, records, created=time.time())


__all__ = [
    "DamagedDataset",
    "Dataset",
    "ImageRecord",
    "ImportReport",
    "Skipped",
    "damaged_datasets",
    "dataset_id",
    "dataset_dir",
    "has_dataset",
    "list_datasets",
    "load_dataset",
    "load_image",
    "load_report",
    "manifest_from_dict",
    "manifest_to_dict",
    "new_dataset",
    "save_dataset",
    "scan_datasets",
    "save_report",
    "store_image",
    "stored_image_problem",
]
