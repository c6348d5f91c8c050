"""Fixtures of the CLI tests: running ``python -m tlcore`` as a user would, in-process JSON runs, small datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.synthetic import write_class_folder
from tlcore.cli.main import main


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """The CLI calls ``tlcore.runtime.setup()``, which applies ``TLCORE_THREADS``: keep the session's one thread."""
    monkeypatch.setenv("TLCORE_THREADS", "1")


def _run_cli(*args: str, ws: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tlcore`` in a subprocess, as a user would."""
    full_env = dict(os.environ, TLCORE_WORKSPACE=str(ws), **(env or {}))
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=600)


def _run_json(capsys, *args: str) -> dict:
    code = main([*args, "--json", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.fixture
def run_cli():
    """``run_cli(*args, ws=PATH, env=None)``: ``python -m tlcore ARGS`` in a subprocess with that workspace."""
    return _run_cli


@pytest.fixture
def run_json():
    """``run_json(capsys, *args)``: the CLI in-process with ``--json --quiet``; asserts exit 0, returns the JSON."""
    return _run_json


@pytest.fixture
def images(tmp_path) -> Path:
    return write_class_folder(tmp_path / "colours", n_per_class=8, size=24)


