"""The method catalogue: the same names as the config, speed classes, the traps left out, code for every row."""

from __future__ import annotations

import importlib

from tlcore.explain import METHOD_NAMES, METHODS


def test_methods_catalogue_matches_the_config_names():
    assert set(METHODS) == set(METHOD_NAMES)
    assert {m.speed for m in METHODS.values()} <= {"instant", "job"}
    assert "guided-backprop" not in METHODS and "deeplift" not in METHODS  # ReLU6 trap: not offered


def test_every_row_names_a_method_file_with_prepare():
    for info in METHODS.values():
        assert callable(importlib.import_module(f"tlcore.explain.methods.{info.module}").prepare), info.name
    assert [n for n, info in METHODS.items() if not info.gradients] == ["occlusion"]
