"""Subcommands registered by feature modules: each entry is ``register(subparsers, common_parent_parser)``.

Kept as an explicit list (no plugin discovery): what the CLI can run is exactly what is imported here.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

Register = Callable[[Any, argparse.ArgumentParser], None]

from tlcore.cli.evaluate import register as register_cv  # noqa: E402  cv, compare, curve
from tlcore.cli.explain import add_explain_commands  # noqa: E402  explain, report

EXTENSIONS: list[Register] = [register_cv, add_explain_commands]
