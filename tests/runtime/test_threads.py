"""Torch threads sized to the machine, and what a process runs with."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.runtime.conftest import ROOT
from tlcore.runtime import threads as runtime


@pytest.mark.slow  # a fresh interpreter that imports torch
def test_preparing_a_process_warns_when_torch_came_first():
    code = ("import logging, sys; logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format='%(message)s');"
            "import torch; from tlcore.runtime.threads import prepare_process; prepare_process(1); print('done')")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], env=base | {"PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert "call tlcore.runtime.setup() before importing torch" in out


def test_physical_cores_counts_distinct_cores():
    cpus = runtime.allowed_cpus()
    cores = runtime.physical_cores(cpus)
    assert 1 <= cores <= len(cpus)
    assert runtime.physical_cores(cpus[:1]) == 1
    assert 1 <= runtime.cpu_budget() <= cores


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    assert runtime.threads_from_env() is None
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    assert runtime.threads_from_env() == 3
    monkeypatch.setenv(runtime.THREADS_ENV, "lots")
    with pytest.raises(ValueError, match="TLCORE_THREADS"):
        runtime.threads_from_env()


def test_configure_threads_and_the_temporary_setting(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    try:
        assert runtime.configure_threads() == 2 and torch.get_num_threads() == 2
        assert runtime.configure_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(RuntimeError):
            with runtime.torch_threads(2):
                assert torch.get_num_threads() == 2
                raise RuntimeError("boom")
        assert torch.get_num_threads() == 1  # restored despite the error
        with runtime.torch_threads(None):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_runtime_info_describes_the_process():
    info = runtime.runtime_info()
    assert info.torch_threads == torch.get_num_threads() and info.physical_cores >= 1
    text = info.describe()
    assert f"{info.torch_threads} threads" in text and "malloc:" in text and "OpenMP wait:" in text
