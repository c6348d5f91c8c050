"""Import images into a workspace, one module per source; :func:`import_path` picks the source from the path.

Every importer returns ``(Dataset, ImportReport)``. Sources: :mod:`~tlcore.data.importing.folder` (a folder per
class), :mod:`~tlcore.data.importing.archive` (a zip of one), :mod:`~tlcore.data.importing.csv` (loose images
plus a label CSV), :mod:`~tlcore.data.importing.files` (a browser upload). They all feed the
:class:`~tlcore.data.importing.common.ImportBuilder`, which checks the classes and writes manifest and report.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tlcore.data.dataset import Dataset, ImportReport
from tlcore.data.importing.archive import import_zip
from tlcore.data.importing.common import FileSource, ImportBuilder
from tlcore.data.importing.csv import CSV_SUFFIXES, LabelTable, import_csv, read_label_csv
from tlcore.data.importing.files import import_files
from tlcore.data.importing.folder import import_folder
from tlcore.data.importing.names import class_name
from tlcore.data.limits import ImportLimits
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace


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


__all__ = [
    "FileSource",
    "ImportBuilder",
    "LabelTable",
    "class_name",
    "import_csv",
    "import_files",
    "import_folder",
    "import_path",
    "import_zip",
    "read_label_csv",
]
