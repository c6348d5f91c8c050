"""Tests for tlcore.jobs.registry: one table of job kinds, light to import, with clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.jobs import registry
from tlcore.jobs.kinds import CompareJob, CurveJob, CVJob, ExplainJob, ReportJob, TrainJob
from tlcore.jobs.registry import JobKind, UnknownJobKind, get_kind, kind_names, register_kind

REPO = Path(__file__).resolve().parents[2]


def _noop(params, ws, on_event, cancel) -> dict:
    return {}


@pytest.mark.slow  # a fresh interpreter
def test_job_modules_import_neither_torch_nor_streamlit() -> None:
    code = ("import sys, tlcore.jobs.manager, tlcore.jobs.registry, tlcore.jobs.worker, tlcore.jobs.kinds; "
            "print(sorted(m for m in ('torch', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_built_in_kinds_and_the_test_plugins_kind_are_registered_with_their_builders() -> None:
    builders = {"train": TrainJob, "cv": CVJob, "compare": CompareJob, "curve": CurveJob, "explain": ExplainJob,
                "explain-report": ReportJob}
    assert set(builders) | {"selftest"} <= set(kind_names())
    for name, builder in builders.items():
        assert get_kind(name).name == name and get_kind(name).params is builder and builder.kind == name
    assert get_kind("selftest").params is None


def test_an_unknown_kind_is_named_with_where_it_was_read_and_the_known_kinds() -> None:
    with pytest.raises(UnknownJobKind, match=r"^unknown job kind 'os.system'; known kinds: .*train"):
        get_kind("os.system")
    with pytest.raises(UnknownJobKind, match=r"^unknown job kind None in /x/job.json; known kinds: "):
        get_kind(None, source="/x/job.json")


def test_register_kind_refuses_a_taken_name_and_a_builder_of_another_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))  # registrations below are undone afterwards
    mine = register_kind(JobKind("mine", _noop))
    assert register_kind(mine) is mine and get_kind("mine") is mine  # the same object again: a no-op
    with pytest.raises(ValueError, match="job kind 'mine' is already registered"):
        register_kind(JobKind("mine", lambda *a: {}))
    with pytest.raises(ValueError, match="its parameter builder TrainJob is for kind 'train'"):
        register_kind(JobKind("other", _noop, TrainJob))
    with pytest.raises(ValueError, match="needs a name"):
        register_kind(JobKind("", _noop))
