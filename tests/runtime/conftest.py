"""Helpers of the runtime tests: run code in a fresh interpreter with a clean malloc and OpenMP environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


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
