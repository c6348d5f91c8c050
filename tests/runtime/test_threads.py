"""Process settings: malloc tuning before torch (checked in fresh processes), threads sized to the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tlcore.runtime import threads as runtime
from tlcore.runtime.allocator import allocator_env

ROOT = Path(__file__).resolve().parent.parent


def fresh_python(code: str, **env: str) -> str:
    """Run ``code`` in a new interpreter with a clean malloc environment plus ``env``; return its last line."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_")
            and k not in ("TLCORE_MALLOC_TUNING", "OMP_WAIT_POLICY", "TLCORE_OMP_PASSIVE", "OMP_NUM_THREADS")}
    base["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=300,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


STATUS = ("import tlcore.runtime.allocator as a, sys, json; "
          "print(json.dumps([a.allocator_status(), 'torch' in sys.modules]))")


SETUP = "import tlcore.runtime; tlcore.runtime.setup(); "


def test_importing_tlcore_changes_nothing_in_the_process():
    code = ("import os, json, tlcore, tlcore.runtime.allocator as a; print(json.dumps([a.allocator_status(), "
            "os.environ.get('OMP_WAIT_POLICY'), os.environ.get('OMP_NUM_THREADS')]))")
    assert json.loads(fresh_python(code)) == ["not applied yet", None, None]


def test_setup_tunes_malloc_without_loading_torch():
    status, torch_loaded = json.loads(fresh_python(SETUP + STATUS))
    assert status == "mallopt" and not torch_loaded  # the app's first page stays light


def test_setup_sizes_torch_threads_before_and_after_torch_loads():
    code = "import torch; print(torch.get_num_threads())"
    assert fresh_python(SETUP + code, TLCORE_THREADS="1") == "1"
    assert fresh_python("import torch; " + SETUP + code, TLCORE_THREADS="1") == "1"


def test_setup_imports_the_plugins_it_is_told_to(tmp_path):
    (tmp_path / "my_plugin.py").write_text("import os\nos.environ['MY_PLUGIN_LOADED'] = 'yes'\n")
    code = SETUP + "import os; print(os.environ.get('MY_PLUGIN_LOADED'))"
    assert fresh_python(code, TLCORE_PLUGINS="my_plugin", PYTHONPATH=f"{ROOT}:{tmp_path}") == "yes"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        fresh_python(SETUP, TLCORE_PLUGINS="no_such_plugin_module")
    assert "TLCORE_PLUGINS: plugin module 'no_such_plugin_module' could not be imported" in failed.value.stderr


def test_malloc_env_vars_from_the_parent_count_as_tuned():
    status, _ = json.loads(fresh_python(SETUP + STATUS, **allocator_env()))
    assert status == "environment"


def test_tuning_is_refused_after_torch_and_can_be_switched_off():
    status, _ = json.loads(fresh_python("import torch; " + SETUP + STATUS))
    assert status == "not applied: torch was imported before tlcore.runtime.setup()"
    status, _ = json.loads(fresh_python(SETUP + STATUS, TLCORE_MALLOC_TUNING="0"))
    assert status.startswith("off")
    off = fresh_python(SETUP + "import tlcore.runtime.allocator as a; print(a.allocator_env())",
                       TLCORE_MALLOC_TUNING="0")
    assert off == "{}"  # job workers then get glibc's defaults too


OMP = SETUP + "import os; print(os.environ.get('OMP_WAIT_POLICY'))"


def test_openmp_threads_wait_passively_unless_told_otherwise():
    assert fresh_python(OMP) == "PASSIVE"
    assert fresh_python(OMP, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"  # the user's own setting wins
    assert fresh_python(OMP, TLCORE_OMP_PASSIVE="0") == "None"
    assert fresh_python("import torch; " + OMP) == "None"  # too late once torch is loaded
    env = fresh_python("import torch, tlcore.runtime.allocator as a, json; print(json.dumps(a.allocator_env()))")
    assert json.loads(env)["OMP_WAIT_POLICY"] == "PASSIVE"  # workers of a process too late to set it get it


def test_worker_environment_sets_all_three_malloc_variables():
    env = allocator_env()
    assert env["MALLOC_ARENA_MAX"] == "1"
    assert int(env["MALLOC_MMAP_THRESHOLD_"]) >= 1 << 28 and int(env["MALLOC_TRIM_THRESHOLD_"]) >= 1 << 28


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
