"""import_path: a folder, a zip or a CSV by what the path is; clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.builders import image_bytes, write
from tlcore.data import import_path
from tlcore.errors import DatasetError
from tlcore.workspace import Workspace


def test_import_path_dispatch_and_errors(ws: Workspace, two_class_folder: Path, tmp_path: Path) -> None:
    dataset, _ = import_path(ws, two_class_folder)
    assert dataset.name == "colours"
    with pytest.raises(DatasetError, match="does not exist"):
        import_path(ws, tmp_path / "nope")
    write(tmp_path / "photo.png", image_bytes())
    with pytest.raises(DatasetError, match=r"photo.png is neither a folder, a .zip archive nor a .csv"):
        import_path(ws, tmp_path / "photo.png")
