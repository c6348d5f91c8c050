"""Label CSVs: read a CSV of file name -> label, and import the images it names (from a folder or an upload)."""

from __future__ import annotations

import codecs
import csv as csvlib
import io
import os
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tlcore.data.dataset import Dataset, ImportReport, Skipped
from tlcore.data.images import IMAGE_EXTENSIONS
from tlcore.data.importing.common import FileSource, ImportBuilder, file_stem
from tlcore.data.importing.folder import list_folder, open_nofollow
from tlcore.data.limits import ImportLimits, check_totals, human_bytes
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace

FILE_COLUMNS = ("filename", "file_name", "file", "image", "image_name", "img", "path", "filepath", "file_path")
LABEL_COLUMNS = ("label", "class", "category", "class_name", "classname", "target")
CSV_SUFFIXES = (".csv", ".tsv")
MAX_CSV_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LabelTable:
    """Labels read from a CSV: file reference (NFC, ``/``-separated, as written) -> label as written."""

    labels: dict[str, str]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# A quoted field (at the start of a line or after a candidate delimiter), removed before counting delimiters.
_QUOTED_FIELD = re.compile(r'(?:^|(?<=[,;\t]))"[^"]*(?:""[^"]*)*"', re.MULTILINE)
_SNIFF_CHARS = 1 << 20


def _decode_csv(data: bytes, csv_name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), UTF-16/32 with a BOM, else Windows-1252 with a warning."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), []
            except UnicodeDecodeError as e:
                raise DatasetError(
                    f"{csv_name} starts with a {label} byte-order mark but is not valid {label} ({e.reason} at byte "
                    f"{e.start:,}); save it again as UTF-8"
                ) from None
    if _looks_utf16(data):
        raise DatasetError(
            f"{csv_name} looks like UTF-16 without a byte-order mark (every other byte is 0); save it again as "
            "UTF-8, or as UTF-16 with a byte-order mark"
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), [f"{csv_name} is not UTF-8; it was read as Windows-1252"]


def _looks_utf16(data: bytes) -> bool:
    sample = data[:4096]
    half = len(sample) // 2
    return half >= 2 and max(sample[0::2].count(0), sample[1::2].count(0)) >= 0.3 * half


def _sniff_delimiter(text: str) -> str:
    """The delimiter of the first non-empty line, counted outside quoted fields (``"a;b.png",cat`` is a comma)."""
    unquoted = _QUOTED_FIELD.sub("", text[:_SNIFF_CHARS])
    first = next((line for line in unquoted.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_rows(text: str, csv_name: str) -> list[list[str]]:
    """The non-empty rows; a field over the csv module's limit or a parse error names the file and the line."""
    reader = csvlib.reader(io.StringIO(text), delimiter=_sniff_delimiter(text))
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(c.strip() for c in row):
                rows.append(row)
    except csvlib.Error as e:
        if "field limit" in str(e):
            raise DatasetError(
                f"{csv_name}: line {reader.line_num}: a field is longer than {csvlib.field_size_limit():,} characters, "
                "far too long for a file name or a label (an unclosed quote?); the CSV was not imported"
            ) from None
        raise DatasetError(f"{csv_name}: line {reader.line_num} cannot be read as CSV ({e})") from None
    return rows


def _escapes(ref: str) -> bool:
    return ref.startswith("/") or (len(ref) > 1 and ref[1] == ":") or ".." in ref.split("/")


def read_label_csv(data: bytes, csv_name: str, limits: ImportLimits = ImportLimits()) -> LabelTable:
    """Parse a CSV of file name -> label (UTF-8/16, ``,``/``;``/tab, optional header); labels stay as written.

    Raises:
        DatasetError: the CSV has no recognisable file and label columns (the message lists the columns it has).
    """
    text, warnings = _decode_csv(data, csv_name)
    rows = _read_rows(text, csv_name)
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


def read_csv_bytes(source: FileSource, csv_name: str) -> bytes:
    """The bytes of a label CSV (a path or bytes), refusing one larger than :data:`MAX_CSV_BYTES`."""
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


@dataclass(frozen=True)
class FileMatch:
    """The file a CSV reference names, or why there is none."""

    key: str | None  # the file, or None
    ambiguous: tuple[str, ...] = ()  # several files fit the reference equally well
    elsewhere: tuple[str, ...] = ()  # files of that name in other folders (never matched)

    def reason(self, csv_name: str, missing_where: str) -> str:
        """The skip reason of a reference that matched no file."""
        if self.ambiguous:
            return f"listed in {csv_name} but ambiguous: {_names(self.ambiguous)} have that name"
        if self.elsewhere:
            one = len(self.elsewhere) == 1
            return (
                f"listed in {csv_name} but {missing_where} ({_names(self.elsewhere)} {'has' if one else 'have'} "
                f"the same name in {'another folder' if one else 'other folders'}; not matched across folders)"
            )
        return f"listed in {csv_name} but {missing_where}"


def match_file(ref: str, files: dict[str, FileSource], by_base: dict[str, list[str]]) -> FileMatch:
    """The file a CSV reference names: the same path, else the one file whose path agrees with the reference on
    every folder both name (``photos/cat/1.png`` matches an upload ``1.png``; ``dogs/1.png`` never matches
    ``cats/1.png``)."""
    if ref in files:
        return FileMatch(ref)
    parts = ref.split("/")
    same_name = sorted(by_base.get(parts[-1], []))
    fitting = tuple(k for k in same_name if _tails_agree(parts, k.split("/")))
    if len(fitting) == 1:
        return FileMatch(fitting[0])
    if fitting:
        return FileMatch(None, ambiguous=fitting)
    return FileMatch(None, elsewhere=tuple(same_name))


def _tails_agree(a: list[str], b: list[str]) -> bool:
    n = min(len(a), len(b))
    return a[-n:] == b[-n:]


def _names(names: tuple[str, ...]) -> str:
    shown = " and ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def feed_labelled(
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
    explained: set[str] = set()  # files already named in a skip reason (ambiguous matches)
    for ref, label in table.labels.items():
        found = match_file(ref, files, by_base)
        key = found.key
        if key is None:
            imp.skip(ref, found.reason(csv_name, missing_where))
            explained.update(found.ambiguous)
        elif key in conflicted:
            continue
        elif key in matched and matched[key] != label:
            imp.skip(key, f"labelled differently in {csv_name} ({matched.pop(key)!r} and {label!r}); left out")
            conflicted.add(key)
        else:
            matched[key] = label
    mentioned = {s.name for s in table.skipped}
    mentioned |= {name.rsplit("/", 1)[-1] for name in mentioned}
    for key in sorted(set(files) - set(matched) - conflicted - explained):
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
            fp = open_nofollow(Path(source))
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
    table = read_label_csv(read_csv_bytes(csv_path, csv_name), csv_name, limits)
    if not root.is_dir():
        raise DatasetError(f"{root} (the folder of the images listed in {csv_name}) is not a folder")
    listing = list_folder(root)

    def wanted(rel: str) -> bool:  # files worth reporting: image-named or named by the CSV
        return Path(rel).suffix.lower() in IMAGE_EXTENSIONS or unicodedata.normalize("NFC", rel) in table.labels

    candidates = {unicodedata.normalize("NFC", rel): p for rel, p in listing.files if wanted(rel)}
    check_totals(f"folder {root}", len(candidates), sum(p.stat().st_size for p in candidates.values()), limits)
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
    with imp.undoing():  # a failure part-way removes the images this import stored
        feed_labelled(imp, table, dict(candidates), csv_name, f"not found under {root}")
        return imp.finish(name or file_stem(csv_name))
