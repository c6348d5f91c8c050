"""Fixtures for the import tests: loose images spooled to disk as an upload leaves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.builders import BLUE, RED, image_bytes, shades, write


@pytest.fixture
def uploads(tmp_path: Path) -> list[tuple[str, Path]]:
    """Six images spooled to disk under meaningless names, as an upload would leave them."""
    colours = shades(RED, 3) + shades(BLUE, 3)
    return [(f"img{i}.png", write(tmp_path / "spool" / f"u{i}", image_bytes(c))) for i, c in enumerate(colours)]
