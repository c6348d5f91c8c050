"""Import limits: bad settings are refused naming the field."""

from __future__ import annotations

import pytest

from tlcore.data import ImportLimits
from tlcore.errors import DatasetError


def test_bad_limits_are_refused() -> None:
    with pytest.raises(DatasetError, match="ImportLimits.max_side must be positive"):
        ImportLimits(max_side=0)
    with pytest.raises(DatasetError, match="min_side"):
        ImportLimits(min_side=100, max_side=64)
