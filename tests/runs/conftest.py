"""Fixtures of the run-store tests: a tiny fine-tuned run saved in a fresh workspace."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_backbone, tiny_config
from tlcore.runs.store import save_run
from tlcore.train.loop import train


@pytest.fixture
def trained(ws, dataset):  # noqa: F811
    result = train(ws, dataset, tiny_config("fine-tune", epochs=2), backbone=fresh_backbone())
    return result, save_run(ws, result, dataset, label="first")
