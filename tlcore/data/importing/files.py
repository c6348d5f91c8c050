"""Import what a browser upload hands over: one zip of class folders, or loose images plus a label CSV."""

from __future__ import annotations

import io
import os
import unicodedata
from pathlib import Path
from typing import Sequence

from tlcore.data.dataset import Dataset, ImportReport
from tlcore.data.importing.archive import feed_zip
from tlcore.data.importing.common import FileSource, ImportBuilder, file_stem
from tlcore.data.importing.csv import CSV_SUFFIXES, feed_labelled, read_csv_bytes, read_label_csv
from tlcore.data.importing.paths import junk_reason
from tlcore.data.limits import ImportLimits, check_totals
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace


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
    check_totals("the upload", len(files), total, limits)
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
        with imp.undoing():  # a failure part-way removes the images this import stored
            feed_zip(imp, src, zip_name)
            return imp.finish(name or file_stem(zip_name))
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
    table = read_label_csv(read_csv_bytes(csv_pair[1], csv_name), csv_name, limits)
    images = {k: s for k, s in useful if k != csv_name}
    imp.source = csv_name
    with imp.undoing():
        feed_labelled(imp, table, images, csv_name, "not in the upload")
        return imp.finish(name or file_stem(csv_name))


def _csv_pair(csv: tuple[str, FileSource] | FileSource | None) -> tuple[str, FileSource] | None:
    if csv is None:
        return None
    if isinstance(csv, tuple):
        return csv[0], csv[1]
    if isinstance(csv, (bytes, bytearray, memoryview)):
        return "labels.csv", bytes(csv)
    return Path(csv).name, Path(csv)
