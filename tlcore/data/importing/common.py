"""What every import source shares: collecting checked images, then writing the manifest and the report.

Each source (:mod:`tlcore.data.importing.folder`, ``archive``, ``csv``, ``files``, and :mod:`tlcore.data.demo`)
feeds an :class:`ImportBuilder`: each file is decoded and checked once (:mod:`tlcore.data.images`), stored under
its content hash, and either becomes a record or a :class:`Skipped` entry with its reason. File names are metadata
only; they are never used as storage paths. Class names are cleaned by :mod:`tlcore.data.importing.names` (NFC,
so "café" typed two ways is one class; invisible characters removed, control characters refused, with a warning or
a skip reason); names that differ only in upper/lower case are refused, because we will not guess which spelling is
meant. Re-importing the same data keeps its id and records but takes the new name (reported as a rename).

An import that fails is undone (:meth:`ImportBuilder.undoing`, and :meth:`ImportBuilder.finish` on its own): the
stored images it newly wrote are removed (never ones that were there before: other datasets share them by content
hash), and so are a manifest and report it wrote; a manifest or report it replaced is put back. A full disk becomes
a :class:`~tlcore.errors.DiskFull` that names the folder, the space the import needs (estimated from the images
stored so far) and the space free once it was undone.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence, Union

from tlcore.atomic import atomic_write_bytes, disk_full, is_disk_full
from tlcore.data.dataset import (
    MANIFEST,
    REPORT,
    Dataset,
    ImageRecord,
    ImportReport,
    Skipped,
    dataset_dir,
    has_dataset,
    load_dataset,
    new_dataset,
    save_dataset,
    save_report,
    store_image,
)
from tlcore.data.images import CheckedImage, ImageRejected, check_image
from tlcore.data.importing.names import (
    NameRefused,
    class_name,
    dataset_name,
    name_change_warning,
    numeric_spelling_warnings,
)
from tlcore.data.limits import ImportLimits, PixelBudget, PixelBudgetExceeded, human_pixels
from tlcore.data.split import imbalance_warning
from tlcore.errors import DatasetError, DiskFull
from tlcore.events import CancelToken, EventCallback, ProgressTimer, ignore_event
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

FileSource = Union[str, Path, bytes]  # a file on disk, or its bytes
_MAX_EXAMPLES = 5


@dataclass
class _Item:
    cls: str
    source_name: str
    hash: str
    width: int
    height: int


@dataclass
class ImportBuilder:
    """Collects the images and skips of one import, then writes manifest and report (:meth:`finish`)."""

    ws: Workspace
    source: str  # what is imported, for messages
    limits: ImportLimits
    on_event: EventCallback = ignore_event
    cancel: CancelToken | None = None
    items: list[_Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    class_folders: set[str] = field(default_factory=set)
    junk: int = 0
    downscaled: int = 0
    repaired: list[str] = field(default_factory=list)  # what was wrong with damaged stored images written again
    _timer: ProgressTimer | None = None
    _done: int = 0
    _pixels: PixelBudget = field(init=False)
    _renamed: set[str] = field(default_factory=set)  # raw class names already warned about
    _total: int = 0
    _written: list[Path] = field(default_factory=list)  # what this import created (images, image folders, files)
    _written_bytes: int = 0  # bytes of the stored images this import newly wrote
    _replaced: dict[Path, bytes] = field(default_factory=dict)  # manifest/report replaced: their earlier bytes

    def __post_init__(self) -> None:
        self._pixels = PixelBudget(self.limits.max_total_pixels)

    def start(self, total: int) -> None:
        """Begin progress reporting for ``total`` files."""
        self._total = total
        self._timer = ProgressTimer("import", total, self.on_event)

    @contextmanager
    def undoing(self) -> Iterator[None]:
        """Undo the import (:meth:`undo`) if the block fails; a full disk becomes a :class:`DiskFull`."""
        try:
            yield
        except BaseException as exc:
            if is_disk_full(exc) and not isinstance(exc, DiskFull):
                raise self._disk_full(self.ws.root) from exc
            self.undo()
            raise

    def undo(self) -> int:
        """Remove what this import wrote and put back what it replaced; return how many stored images went.

        Stored images that were there before (shared with other datasets) are never touched.
        """
        images = 0
        for path in reversed(self._written):
            try:
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()  # only when empty: another import may have stored an image there meanwhile
                else:
                    path.unlink(missing_ok=True)
                    images += path.suffix == ".png"
            except OSError as e:
                log.debug("undoing the import of %s: %s stays (%s)", self.source, path, e)
        for path, data in self._replaced.items():
            try:
                if path.read_bytes() != data:
                    atomic_write_bytes(path, data)
            except OSError as e:
                log.warning("undoing the import of %s: %s could not be put back (%s)", self.source, path, e)
        self._written, self._replaced, self._written_bytes = [], {}, 0
        return images

    def _disk_full(self, folder: Path) -> DiskFull:
        """Undo the import, then describe the full disk (the space needed is estimated from the images so far)."""
        handled = max(self._done, len(self.items), 1)
        needed = self._written_bytes * max(self._total, handled) // handled or None
        removed = self.undo()
        undone = (f"The import was undone: the {removed} stored image(s) it had written were removed (images other "
                  "datasets share were kept)." if removed else "The import was undone; nothing of it was kept.")
        return disk_full(folder, f"importing {self.source}", needed, undone=undone)

    def step(self) -> None:
        """One more file handled: honour a cancel request, then report progress."""
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        self._done += 1
        if self._timer is not None:
            self._timer.update(self._done)

    def skip(self, name: str, reason: str) -> None:
        """Leave ``name`` out of the dataset, with the reason the report shows."""
        self.skipped.append(Skipped(name, reason))

    def skip_junk(self, name: str, reason: str) -> None:
        """Like :meth:`skip`, for junk no one meant to import (counted apart in the report)."""
        self.junk += 1
        self.skipped.append(Skipped(name, reason))

    def add_file(self, cls: str, source_name: str, fp: BinaryIO) -> None:
        """Decode, check and store one image file; a rejected file becomes a :class:`Skipped` entry."""
        try:
            checked = check_image(fp, self.limits, self._pixels)
        except ImageRejected as e:
            self.skip(source_name, e.reason)
            return
        except PixelBudgetExceeded as e:
            raise DatasetError(
                f"{self.source}: {source_name} ({e.width}x{e.height} px) would take the decoded pixels of this "
                f"import past {human_pixels(e.limit)} (ImportLimits.max_total_pixels), with {human_pixels(e.used)} "
                "decoded so far; import stopped. Import fewer or smaller images, or raise the limit."
            ) from None
        self.add_checked(cls, source_name, checked)

    def add_checked(self, cls: str, source_name: str, checked: CheckedImage) -> None:
        """Store an already-checked image and record it under ``cls`` (cleaned by :func:`class_name`)."""
        try:
            name = class_name(cls)
        except NameRefused as e:
            self.skip(source_name, e.reason)
            return
        if not name:
            self.skip(source_name, "empty class name")
            return
        changed = name_change_warning(cls, name)
        if changed and cls not in self._renamed:
            self._renamed.add(cls)
            self.warnings.append(changed)
        self._store(checked)
        self.downscaled += checked.downscaled
        self.items.append(_Item(name, source_name, checked.hash, checked.width, checked.height))

    def _store(self, checked: CheckedImage) -> None:
        """Store one image, remembering it (and a new folder for it) when it was not stored before."""
        path = self.ws.image_path(checked.hash)
        new = [p for p in (path.parent, path) if not (p.exists() or p.is_symlink())]
        try:
            store_image(self.ws, checked, self.repaired)
        except OSError as exc:
            self._written += [p for p in new if p.exists()]
            if is_disk_full(exc):
                raise self._disk_full(self.ws.images) from exc
            raise
        self._written += new
        if new and new[-1] == path:
            self._written_bytes += path.stat().st_size

    def finish(self, name: str) -> tuple[Dataset, ImportReport]:
        """Check the classes, write the manifest and report, and return both; a failure undoes the import.

        Raises:
            DatasetError: nothing usable, a single class, or clashing class names.
            DiskFull: the disk filled up; the import was undone.
        """
        try:
            return self._finish(name)
        except BaseException as exc:
            if is_disk_full(exc):
                raise self._disk_full(exc.folder if isinstance(exc, DiskFull) and exc.folder else self.ws.datasets
                                      ) from exc
            self.undo()
            raise

    def _finish(self, name: str) -> tuple[Dataset, ImportReport]:
        name, renamed = dataset_name(name)
        if renamed:
            self.warnings.append(renamed)
        present = {it.cls for it in self.items}
        folders = _usable_names(self.class_folders)
        _refuse_case_collisions(present | folders, self.source)
        if not self.items:
            raise DatasetError(f"{self.source}: no usable images found{_skip_summary(self.skipped)}")
        classes = tuple(sorted(present))
        if len(classes) < 2:
            raise DatasetError(
                f"{self.source}: only one class ({classes[0]!r}) has usable images; at least 2 classes are needed "
                f"(one folder per class, or a label per file in the CSV){_skip_summary(self.skipped)}"
            )
        for empty in sorted(folders - present):
            self.warnings.append(f"class {empty!r} has no usable images and was left out")
        self.warnings.extend(numeric_spelling_warnings(classes))
        index = {c: i for i, c in enumerate(classes)}
        records = tuple(
            sorted(
                (ImageRecord(it.hash, index[it.cls], it.source_name, it.width, it.height) for it in self.items),
                key=lambda r: (r.label, r.source_name, r.hash),
            )
        )
        dataset = new_dataset(name, classes, records)
        self.warnings.extend(_duplicate_warnings(self.items))
        if self.downscaled:
            self.warnings.append(
                f"{self.downscaled} large image(s) were downscaled so the longer side is {self.limits.max_side} px"
            )
        imbalance = imbalance_warning(dataset)
        if imbalance:
            self.warnings.append(imbalance)
        if self.repaired:
            self.warnings.append(
                f"{len(self.repaired)} stored image(s) in the workspace were damaged and have been written again"
            )
        self._track_dataset_files(dataset.id)
        dataset, old_name = _keep_existing(self.ws, dataset)
        if old_name is not None:
            self.warnings.append(
                f"this data was imported before as {old_name!r}; dataset {dataset.id} is now named {dataset.name!r}"
            )
        report = ImportReport(
            dataset_id=dataset.id,
            imported=len(records),
            skipped=tuple(self.skipped),
            warnings=tuple(self.warnings),
            class_counts=dataset.class_counts(),
            junk=self.junk,
            source=self.source,
        )
        save_report(self.ws, report)
        log.info("imported %s as %s: %d images, %d skipped", self.source, dataset.id, len(records), len(self.skipped))
        return dataset, report


    def _track_dataset_files(self, dataset_id: str) -> None:
        """Note what the dataset's folder holds before the manifest and report are written, for :meth:`undo`."""
        folder = dataset_dir(self.ws, dataset_id)
        if not folder.exists():
            self._written.append(folder)
        for path in (folder / MANIFEST, folder / REPORT):
            if path.is_file() and not path.is_symlink():
                self._replaced[path] = path.read_bytes()
            elif not (path.exists() or path.is_symlink()):
                self._written.append(path)


def _keep_existing(ws: Workspace, dataset: Dataset) -> tuple[Dataset, str | None]:
    """The same data imported before keeps its manifest (records, created time) but takes the new name.

    Returns the dataset as saved and its old name when it was renamed (else None).
    """
    if has_dataset(ws, dataset.id):
        try:
            existing = load_dataset(ws, dataset.id)
        except DatasetError as e:
            log.warning("rewriting unreadable manifest of dataset %s: %s", dataset.id, e)
        else:
            if existing.name == dataset.name:
                return existing, None
            renamed = replace(existing, name=dataset.name)
            save_dataset(ws, renamed)
            return renamed, existing.name
    save_dataset(ws, dataset)
    return dataset, None


def _usable_names(raw_names: set[str]) -> set[str]:
    """Clean class-folder names; refused and empty ones are left out (their files were skipped with the reason)."""
    out = set()
    for raw in raw_names:
        try:
            name = class_name(raw)
        except NameRefused:
            continue
        if name:
            out.add(name)
    return out


def _refuse_case_collisions(names: set[str], source: str) -> None:
    by_fold: dict[str, list[str]] = defaultdict(list)
    for n in sorted(names):
        by_fold[n.casefold()].append(n)
    clashes = [v for v in by_fold.values() if len(v) > 1]
    if clashes:
        spelled = "; ".join(" and ".join(repr(s) for s in v) for v in clashes)
        raise DatasetError(
            f"{source}: class names {spelled} differ only in upper/lower case. A person would read them as the "
            "same class, but we will not guess which spelling you mean: rename the folders (or fix the labels) "
            "so each class has one spelling."
        )


def _duplicate_warnings(items: list[_Item]) -> list[str]:
    by_hash: dict[str, list[_Item]] = defaultdict(list)
    for it in items:
        by_hash[it.hash].append(it)
    repeated = [v for v in by_hash.values() if len(v) > 1]
    if not repeated:
        return []
    out = []
    same = [v for v in repeated if len({it.cls for it in v}) == 1]
    mixed = [v for v in repeated if len({it.cls for it in v}) > 1]
    if same:
        copies = sum(len(v) - 1 for v in same)
        examples = ", ".join(" = ".join(repr(it.source_name) for it in v[:2]) for v in same[:_MAX_EXAMPLES])
        out.append(
            f"{copies} duplicate image(s) with identical content in the same class (e.g. {examples}); "
            "copies always stay in the same part of a split"
        )
    for v in mixed[:_MAX_EXAMPLES]:
        labels = " and ".join(f"{it.cls!r} ({it.source_name!r})" for it in v)
        out.append(f"the same image is labelled {labels}; check which label is right")
    if len(mixed) > _MAX_EXAMPLES:
        out.append(f"... and {len(mixed) - _MAX_EXAMPLES} more images labelled with more than one class")
    return out


def _skip_summary(skipped: Sequence[Skipped]) -> str:
    if not skipped:
        return ""
    reasons = Counter(s.reason.split(" (")[0] for s in skipped)
    top = ", ".join(f"{n} {r}" for r, n in reasons.most_common(4))
    return f" ({len(skipped)} file(s) skipped: {top})"


def file_stem(file_name: str) -> str:
    """The default dataset name for an imported file: its name without folders and extension."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base[1:] else base or "dataset"
