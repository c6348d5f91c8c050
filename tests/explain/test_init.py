"""The flat public names: each one resolves, and the light part of the package loads without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tlcore.explain


def test_every_public_name_resolves():
    for name in tlcore.explain.__all__:
        assert getattr(tlcore.explain, name) is not None, name
    assert callable(tlcore.explain.overlay) and callable(tlcore.explain.faithfulness)  # functions, not modules
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = tlcore.explain.nothing


@pytest.mark.slow
def test_configs_catalogue_and_overlays_import_no_torch():
    code = ("import sys; import tlcore.explain, tlcore.explain.config, tlcore.explain.methods, tlcore.explain.overlay; "
            "print(sorted(m for m in ('torch', 'captum', 'scipy', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
