"""Fixtures for the data tests: a fresh workspace and a small two-class folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.builders import BLUE, RED, class_folder, shades
from tlcore.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An empty workspace in a temp folder."""
    return Workspace(tmp_path / "ws")


@pytest.fixture
def two_class_folder(tmp_path: Path) -> Path:
    """``red/`` and ``blue/`` with 6 distinct 16x16 images each."""
    return class_folder(tmp_path / "colours", {"red": shades(RED, 6), "blue": shades(BLUE, 6)})

