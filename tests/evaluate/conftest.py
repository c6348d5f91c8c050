"""Fixtures of the evaluation tests: a small three-colour dataset (9 images per class, 16 px) and one with
duplicate images."""

from __future__ import annotations

import shutil

import pytest

from tests.synthetic import write_class_folder
from tlcore.data import import_folder
from tlcore.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def dataset(ws, tmp_path):
    ds, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=9, size=16))
    return ds


@pytest.fixture
def dup_dataset(ws, tmp_path):
    """Three classes of 10 images, where 3 images of each class have an identical copy (so 13 records per class)."""
    root = write_class_folder(tmp_path / "dups", n_per_class=10, size=16, seed=3)
    for cls in ("red", "green", "blue"):
        for i in range(3):
            shutil.copy(root / cls / f"{cls}_{i}.png", root / cls / f"{cls}_{i}_copy.png")
    ds, _ = import_folder(ws, root)
    return ds
