"""Malloc and OpenMP tuning before torch loads, checked in fresh processes; the environment workers inherit."""

from __future__ import annotations

import json

import pytest

from tests.runtime.conftest import SETUP, STATUS, fresh_python
from tlcore.runtime.allocator import allocator_env


def test_malloc_env_vars_from_the_parent_count_as_tuned():
    status, _ = json.loads(fresh_python(SETUP + STATUS, **allocator_env()))
    assert status == "environment"


@pytest.mark.slow  # a fresh interpreter that imports torch
def test_tuning_is_refused_after_torch_and_can_be_switched_off():
    status, _ = json.loads(fresh_python("import torch; " + SETUP + STATUS))
    assert status == "not applied: torch was imported before tlcore.runtime.setup()"
    status, _ = json.loads(fresh_python(SETUP + STATUS, TLCORE_MALLOC_TUNING="0"))
    assert status.startswith("off")
    off = fresh_python(SETUP + "import tlcore.runtime.allocator as a; print(a.allocator_env())",
                       TLCORE_MALLOC_TUNING="0")
    assert off == "{}"  # job workers then get glibc's defaults too


OMP = SETUP + "import os; print(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.slow  # a fresh interpreter that imports torch
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
