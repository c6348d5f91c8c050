"""Import images into a workspace: a folder per class, a zip of one, loose images plus a CSV of labels.

Every public importer returns ``(Dataset, ImportReport)``. Each file is decoded and checked once
(:mod:`tlcore.data.images`), stored under its content hash, and either becomes a record or a
:class:`Skipped` entry with its reason. File names are metadata only; they are never used as storage paths.
Class names are NFC-normalised (so "café" typed two ways is one class); names that differ only in upper/lower
case are refused, because we will not guess which spelling is meant.
"""

from __future__ import annotations

import csv as csvlib
import io
import logging
import os
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Sequence, Union

from tlcore.data.archive import (
    ReadBudget,
    junk_reason,
    nested_archive_reason,
    open_zip,
    plan_zip,
    read_member,
    safe_member_name,
    strip_wrapper,
)
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
from tlcore.data.images import IMAGE_EXTENSIONS, CheckedImage, ImageRejected, check_image
from tlcore.data.limits import ImportLimits, human_bytes
from tlcore.data.split import imbalance_warning
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ProgressTimer, ignore_event
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

FileSource = Union[str, Path, bytes]
FILE_COLUMNS = ("filename", "file_name", "file", "image", "image_name", "img", "path", "filepath", "file_path")
LABEL_COLUMNS = ("label", "class", "category", "class_name", "classname", "target")
CSV_SUFFIXES = (".csv", ".tsv")
MAX_CSV_BYTES = 64 * 1024 * 1024
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
_MAX_EXAMPLES = 5


def class_name(raw: str) -> str:
    """A class name as a person sees it: NFC-normalised, surrounding white space removed, otherwise as written."""
    return unicodedata.normalize("NFC", raw).strip()


# ---------------------------------------------------------------------------------------------------- the builder


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
    _timer: ProgressTimer | None = None
    _done: int = 0

    def start(self, total: int) -> None:
        self._timer = ProgressTimer("import", total, self.on_event)

    def step(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        self._done += 1
        if self._timer is not None:
            self._timer.update(self._done)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(name, reason))

    def skip_junk(self, name: str, reason: str) -> None:
        self.junk += 1
        self.skipped.append(Skipped(name, reason))

    def add_file(self, cls: str, source_name: str, fp: BinaryIO) -> None:
        """Decode, check and store one image file; a rejected file becomes a :class:`Skipped` entry."""
        try:
            checked = check_image(fp, self.limits)
        except ImageRejected as e:
            self.skip(source_name, e.reason)
            return
        self.add_checked(cls, source_name, checked)

    def add_checked(self, cls: str, source_name: str, checked: CheckedImage) -> None:
        """Store an already-checked image and record it under ``cls``."""
        name = class_name(cls)
        if not name:
            self.skip(source_name, "empty class name")
            return
        store_image(self.ws, checked)
        self.downscaled += checked.downscaled
        self.items.append(_Item(name, source_name, checked.hash, checked.width, checked.height))

    def finish(self, name: str) -> tuple[Dataset, ImportReport]:
        """Check the classes, write images' manifest and report, and return both."""
        present = {it.cls for it in self.items}
        folders = {class_name(c) for c in self.class_folders} - {""}
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
        dataset = _keep_existing(self.ws, dataset)
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


def _keep_existing(ws: Workspace, dataset: Dataset) -> Dataset:
    """The same data imported before keeps its manifest (name, created time); otherwise write this one."""
    if has_dataset(ws, dataset.id):
        try:
            return load_dataset(ws, dataset.id)
        except DatasetError as e:
            log.warning("rewriting unreadable manifest of dataset %s: %s", dataset.id, e)
    save_dataset(ws, dataset)
    return dataset


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


# -------------------------------------------------------------------------------------------------------- folders


@dataclass(frozen=True)
class _Listing:
    files: list[tuple[str, Path]]  # relative "/" path, absolute path of a regular file
    dirs: list[str]  # relative paths of directories
    skipped: list[tuple[Skipped, bool]]  # (entry, is_junk)
    total_bytes: int


def _list_folder(root: Path) -> _Listing:
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
    return _Listing(files, sorted(dirs), skipped, total)


def _under(path: str, prefix: str) -> str | None:
    """``path`` relative to the stripped wrapper ``prefix``; None if it lies outside it."""
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None


def _check_totals(what: str, n_files: int, n_bytes: int, limits: ImportLimits) -> None:
    if n_files > limits.max_files:
        raise DatasetError(
            f"{what} holds {n_files:,} files; the limit is {limits.max_files:,} (ImportLimits.max_files)"
        )
    if n_bytes > limits.max_total_bytes:
        raise DatasetError(
            f"{what} holds {human_bytes(n_bytes)}; the limit is {human_bytes(limits.max_total_bytes)} "
            "(ImportLimits.max_total_bytes)"
        )


def _open_nofollow(path: Path) -> BinaryIO:
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
    listing = _list_folder(root)
    _check_totals(f"folder {root}", len(listing.files), listing.total_bytes, limits)
    imp = ImportBuilder(ws, root.name or str(root), limits, on_event, cancel)
    for entry, junk in listing.skipped:
        (imp.skip_junk if junk else imp.skip)(entry.name, entry.reason)
    rels, prefix = strip_wrapper([rel for rel, _ in listing.files])
    for d in listing.dirs:
        inner = _under(d, prefix)
        if inner and "/" not in inner:
            imp.class_folders.add(inner)
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
                fp = _open_nofollow(file_path)
            except OSError as e:
                imp.skip(original, f"cannot be read ({e.strerror})")
                continue
            with fp:
                imp.add_file(rel.split("/", 1)[0], original, fp)
    return imp.finish(name or root.name or "dataset")


# ----------------------------------------------------------------------------------------------------------- zips


def _feed_zip(imp: ImportBuilder, source: str | Path | BinaryIO, archive: str) -> None:
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
            inner = _under(safe_member_name(info.filename, archive), prefix) if info.is_dir() else None
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
    _check_totals(archive, 1, size, limits)
    imp = ImportBuilder(ws, archive, limits, on_event, cancel)
    _feed_zip(imp, source, archive)
    return imp.finish(name or _stem(archive))


def _stem(file_name: str) -> str:
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base[1:] else base or "dataset"


# ------------------------------------------------------------------------------------------------------------ CSVs


@dataclass(frozen=True)
class LabelTable:
    """Labels read from a CSV: file reference (NFC, ``/``-separated, as written) -> label as written."""

    labels: dict[str, str]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]


def _decode_csv(data: bytes, csv_name: str) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), [f"{csv_name} is not UTF-8; it was read as Windows-1252"]


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _escapes(ref: str) -> bool:
    return ref.startswith("/") or (len(ref) > 1 and ref[1] == ":") or ".." in ref.split("/")


def read_label_csv(data: bytes, csv_name: str, limits: ImportLimits = ImportLimits()) -> LabelTable:
    """Parse a CSV of file name -> label (BOM, ``,``/``;``/tab, optional header); labels stay strings as written.

    Raises:
        DatasetError: the CSV has no recognisable file and label columns (the message lists the columns it has).
    """
    text, warnings = _decode_csv(data, csv_name)
    rows = [r for r in csvlib.reader(io.StringIO(text), delimiter=_sniff_delimiter(text)) if any(c.strip() for c in r)]
    if not rows:
        raise DatasetError(f"{csv_name} is empty; it needs a file name and a label on each row")
    head = [c.strip().lower() for c in rows[0]]
    file_col = next((i for i, c in enumerate(head) if c in FILE_COLUMNS), None)
    label_col = next((i for i, c in enumerate(head) if c in LABEL_COLUMNS), None)
    if file_col is not None and label_col is not None:
        body, first_line = rows[1:], 2
    elif file_col is None and label_col is None and len(head) >= 2 and Path(head[0]).suffix in IMAGE_EXTENSIONS:
        file_col, label_col, body, first_line = 0, 1, rows, 1
    else:
        columns = ", ".join(repr(c.strip()) for c in rows[0])
        raise DatasetError(
            f"{csv_name}: no file-name and label columns found; its columns are {columns}. Name them e.g. "
            f"'filename' and 'label' (accepted: {', '.join(FILE_COLUMNS)} / {', '.join(LABEL_COLUMNS)})"
        )
    if len(body) > limits.max_files:
        raise DatasetError(
            f"{csv_name} has {len(body):,} rows; the limit is {limits.max_files:,} (ImportLimits.max_files)"
        )
    labels: dict[str, str] = {}
    conflicts: dict[str, set[str]] = defaultdict(set)
    skipped: list[Skipped] = []
    unlabelled: dict[str, int] = {}
    repeats = 0
    for line, row in enumerate(body, start=first_line):
        if len(row) <= max(file_col, label_col):
            skipped.append(Skipped(f"{csv_name} row {line}", "row has too few columns"))
            continue
        ref = unicodedata.normalize("NFC", row[file_col].strip().replace("\\", "/"))
        while ref.startswith("./"):
            ref = ref[2:]
        label = row[label_col].strip()
        if not ref:
            skipped.append(Skipped(f"{csv_name} row {line}", "no file name"))
        elif _escapes(ref):
            skipped.append(Skipped(ref, f"path in {csv_name} escapes the upload (absolute or '..'); not read"))
        elif not label:
            unlabelled.setdefault(ref, line)
        elif ref in conflicts:
            conflicts[ref].add(label)
        elif ref in labels and labels[ref] != label:
            conflicts[ref].update((labels.pop(ref), label))
        elif ref in labels:
            repeats += 1
        else:
            labels[ref] = label
    for ref, both in conflicts.items():
        spelled = " and ".join(repr(x) for x in sorted(both))
        skipped.append(Skipped(ref, f"labelled differently in {csv_name} ({spelled}); left out"))
    for ref, line in unlabelled.items():
        if ref not in labels and ref not in conflicts:
            skipped.append(Skipped(ref, f"no label in {csv_name} (row {line})"))
        else:
            repeats += 1
    if repeats:
        warnings.append(f"{repeats} repeated row(s) in {csv_name} were counted once")
    return LabelTable(labels, tuple(skipped), tuple(warnings))


def _read_csv_bytes(source: FileSource, csv_name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            size = os.stat(source).st_size
            if size > MAX_CSV_BYTES:
                raise DatasetError(f"{csv_name} is {human_bytes(size)}; a label CSV may be at most "
                                   f"{human_bytes(MAX_CSV_BYTES)}")
            data = Path(source).read_bytes()
        except OSError as e:
            raise DatasetError(f"{csv_name} cannot be read ({e.strerror})") from None
    if len(data) > MAX_CSV_BYTES:
        raise DatasetError(f"{csv_name} is {human_bytes(len(data))}; a label CSV may be at most "
                           f"{human_bytes(MAX_CSV_BYTES)}")
    return data


def _feed_labelled(
    imp: ImportBuilder, table: LabelTable, files: dict[str, FileSource], csv_name: str, missing_where: str
) -> None:
    """Import ``files`` (NFC name -> path or bytes) with the labels of ``table``; report what does not match."""
    for s in table.skipped:
        imp.skip(s.name, s.reason)
    imp.warnings.extend(table.warnings)
    by_base: dict[str, list[str]] = defaultdict(list)
    for key in files:
        by_base[key.rsplit("/", 1)[-1]].append(key)
    matched: dict[str, str] = {}  # file key -> label
    conflicted: set[str] = set()  # two CSV paths naming the same uploaded file with different labels
    for ref, label in table.labels.items():
        key = ref if ref in files else None
        if key is None and len(by_base.get(ref.rsplit("/", 1)[-1], [])) == 1:
            key = by_base[ref.rsplit("/", 1)[-1]][0]
        if key is None:
            imp.skip(ref, f"listed in {csv_name} but {missing_where}")
        elif key in conflicted:
            continue
        elif key in matched and matched[key] != label:
            imp.skip(key, f"labelled differently in {csv_name} ({matched.pop(key)!r} and {label!r}); left out")
            conflicted.add(key)
        else:
            matched[key] = label
    mentioned = {s.name for s in table.skipped}
    mentioned |= {name.rsplit("/", 1)[-1] for name in mentioned}
    for key in sorted(set(files) - set(matched) - conflicted):
        if key not in mentioned and key.rsplit("/", 1)[-1] not in mentioned:
            imp.skip(key, f"not listed in {csv_name}")
    todo = sorted(matched.items())
    imp.class_folders.update(label for _, label in todo)
    imp.start(len(todo))
    for key, label in todo:
        imp.step()
        source = files[key]
        if isinstance(source, (bytes, bytearray, memoryview)):
            imp.add_file(label, key, io.BytesIO(bytes(source)))
            continue
        try:
            fp = _open_nofollow(Path(source))
        except OSError as e:
            link = Path(source).is_symlink()
            imp.skip(key, "symbolic link (not followed)" if link else f"cannot be read ({e.strerror})")
            continue
        with fp:
            imp.add_file(label, key, fp)


def import_csv(
    ws: Workspace,
    csv_path: str | Path,
    images_root: str | Path | None = None,
    name: str | None = None,
    limits: ImportLimits = ImportLimits(),
    *,
    on_event: EventCallback = ignore_event,
    cancel: CancelToken | None = None,
) -> tuple[Dataset, ImportReport]:
    """Import images listed in a CSV of file name -> label; paths are relative to ``images_root``.

    Args:
        csv_path: the CSV file.
        images_root: folder the CSV's file names are relative to (default: the CSV's folder).
    """
    csv_path = Path(csv_path)
    csv_name = csv_path.name
    root = Path(images_root) if images_root is not None else csv_path.parent
    table = read_label_csv(_read_csv_bytes(csv_path, csv_name), csv_name, limits)
    if not root.is_dir():
        raise DatasetError(f"{root} (the folder of the images listed in {csv_name}) is not a folder")
    listing = _list_folder(root)

    def wanted(rel: str) -> bool:  # files worth reporting: image-named or named by the CSV
        return Path(rel).suffix.lower() in IMAGE_EXTENSIONS or unicodedata.normalize("NFC", rel) in table.labels

    candidates = {unicodedata.normalize("NFC", rel): p for rel, p in listing.files if wanted(rel)}
    _check_totals(f"folder {root}", len(candidates), sum(p.stat().st_size for p in candidates.values()), limits)
    imp = ImportBuilder(ws, csv_name, limits, on_event, cancel)
    unusable = set()  # symlinks, unreadable entries: reported here, not again as "not found"
    for entry, junk in listing.skipped:
        if junk:
            imp.skip_junk(entry.name, entry.reason)
        elif wanted(entry.name):
            imp.skip(entry.name, entry.reason)
            unusable.add(unicodedata.normalize("NFC", entry.name))
    labels = {k: v for k, v in table.labels.items() if k not in unusable}
    table = LabelTable(labels, table.skipped, table.warnings)
    _feed_labelled(imp, table, dict(candidates), csv_name, f"not found under {root}")
    return imp.finish(name or _stem(csv_name))


def _source_size(source: FileSource) -> int:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    try:
        return os.stat(source, follow_symlinks=False).st_size
    except OSError as e:
        raise DatasetError(f"uploaded file {source} cannot be read ({e.strerror})") from None


def import_files(
    ws: Workspace,
    files: Sequence[tuple[str, FileSource]],
    csv: tuple[str, FileSource] | FileSource | None = None,
    name: str | None = None,
    limits: ImportLimits = ImportLimits(),
    *,
    on_event: EventCallback = ignore_event,
    cancel: CancelToken | None = None,
) -> tuple[Dataset, ImportReport]:
    """Import what a browser upload hands over: ``(name, path-on-disk or bytes)`` pairs.

    A single ``.zip`` among them is imported as an archive of class folders; otherwise the files are loose
    images labelled by the CSV (``csv``, or the one ``.csv`` among ``files``).
    """
    files = list(files)
    csv_pair = _csv_pair(csv)
    total = sum(_source_size(src) for _, src in files) + (_source_size(csv_pair[1]) if csv_pair else 0)
    _check_totals("the upload", len(files), total, limits)
    imp = ImportBuilder(ws, "upload", limits, on_event, cancel)
    useful: list[tuple[str, FileSource]] = []
    for upload_name, src in files:
        key = unicodedata.normalize("NFC", upload_name.replace("\\", "/").lstrip("/"))
        junk = junk_reason(key)
        if junk:
            imp.skip_junk(upload_name, junk)
        else:
            useful.append((key, src))
    zips = [(k, s) for k, s in useful if k.lower().endswith(".zip")]
    if len(zips) > 1:
        names = ", ".join(k for k, _ in zips)
        raise DatasetError(f"the upload holds {len(zips)} zip archives ({names}); import one archive at a time")
    if zips:
        zip_name, zip_src = zips[0]
        imp.source = zip_name
        for k, _ in useful:
            if k != zip_name:
                imp.skip(k, f"not used: the archive {zip_name} was imported instead")
        src = io.BytesIO(bytes(zip_src)) if isinstance(zip_src, (bytes, bytearray, memoryview)) else Path(zip_src)
        _feed_zip(imp, src, zip_name)
        return imp.finish(name or _stem(zip_name))
    csvs = [(k, s) for k, s in useful if k.lower().endswith(CSV_SUFFIXES)]
    if csv_pair is None:
        if len(csvs) > 1:
            raise DatasetError(f"the upload holds {len(csvs)} CSV files ({', '.join(k for k, _ in csvs)}); "
                               "keep the one with the labels")
        if not csvs:
            raise DatasetError("loose images need a CSV of labels (file name, label) in the upload, "
                               "or upload a zip with one folder per class")
        csv_pair = csvs[0]
    csv_name = csv_pair[0]
    table = read_label_csv(_read_csv_bytes(csv_pair[1], csv_name), csv_name, limits)
    images = {k: s for k, s in useful if k != csv_name}
    imp.source = csv_name
    _feed_labelled(imp, table, images, csv_name, "not in the upload")
    return imp.finish(name or _stem(csv_name))


def _csv_pair(csv: tuple[str, FileSource] | FileSource | None) -> tuple[str, FileSource] | None:
    if csv is None:
        return None
    if isinstance(csv, tuple):
        return csv[0], csv[1]
    if isinstance(csv, (bytes, bytearray, memoryview)):
        return "labels.csv", bytes(csv)
    return Path(csv).name, Path(csv)


def import_path(
    ws: Workspace,
    path: str | Path,
    name: str | None = None,
    limits: ImportLimits = ImportLimits(),
    *,
    on_event: EventCallback = ignore_event,
    cancel: CancelToken | None = None,
) -> tuple[Dataset, ImportReport]:
    """Import a folder of class folders, a ``.zip`` of one, or a ``.csv`` of labels (images beside it)."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p} does not exist")
    if p.is_dir():
        return import_folder(ws, p, name, limits, on_event=on_event, cancel=cancel)
    suffix = p.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return import_csv(ws, p, None, name, limits, on_event=on_event, cancel=cancel)
    if suffix == ".zip" or zipfile.is_zipfile(p):
        return import_zip(ws, p, name, limits, on_event=on_event, cancel=cancel)
    raise DatasetError(f"{p} is neither a folder, a .zip archive nor a .csv of labels")
