"""What every import source shares: collecting checked images, then writing the manifest and the report.

Each source (:mod:`tlcore.data.importing.folder`, ``archive``, ``csv``, ``files``, and :mod:`tlcore.data.demo`)
feeds an :class:`ImportBuilder`: each file is decoded and checked once (:mod:`tlcore.data.images`), stored under
its content hash, and either becomes a record or a :class:`Skipped` entry with its reason. File names are metadata
only; they are never used as storage paths. Class names are cleaned by :mod:`tlcore.data.importing.names` (NFC,
so "café" typed two ways is one class; invisible characters removed, control characters refused, with a warning or
a skip reason); names that differ only in upper/lower case are refused, because we will not guess which spelling is
meant. Re-importing the same data keeps its id and records but takes the new name (reported as a rename).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Sequence, Union

from tlcore.data.dataset import (
    Dataset,
    ImageRecord,
    ImportReport,
    Skipped,
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
from tlcore.errors import DatasetError
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

    def __post_init__(self) -> None:
        self._pixels = PixelBudget(self.limits.max_total_pixels)

    def start(self, total: int) -> None:
        """Begin progress reporting for ``total`` files."""
        self._timer = ProgressTimer("import", total, self.on_event)

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
        store_image(self.ws, checked, self.repaired)
        self.downscaled += checked.downscaled
        self.items.append(_Item(name, source_name, checked.hash, checked.width, checked.height))

    def finish(self, name: str) -> tuple[Dataset, ImportReport]:
        """Check the classes, write images' manifest and report, and return both."""
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
