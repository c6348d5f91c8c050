"""Fixtures of the job-kind tests: the explain kinds run on the explain tests' saved tiny run."""

from __future__ import annotations

from tests.explain.conftest import saved_run  # noqa: F401  (a fixture: pytest finds it by name)
