"""``python -m tlcore``: everything the app does, from the command line.

Every subcommand takes ``--workspace DIR`` (default ``$TLCORE_WORKSPACE`` or ``~/.tlcore/workspace``) and ``--json``
(print one JSON object on stdout instead of text; progress always goes to stderr). Exit codes: 0 success, 1 a
problem with the input or the run (the message says what), 2 bad command-line usage, 130 interrupted.

This module builds the parser from the command modules (each adds its subcommands with ``register``) and dispatches;
it never loads torch: the command modules import the engine inside their handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from tlcore.cli import data, evaluate, explain, runs, train
from tlcore.cli.common import common_options, print_json
from tlcore.errors import TlcoreError
from tlcore.runtime import setup
from tlcore.workspace import default_workspace


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m tlcore`` argument parser (commands listed in this order in ``--help``)."""
    common = common_options()
    parser = argparse.ArgumentParser(prog="python -m tlcore", parents=[common],
                                     description="The transfer-learning workbench's engine, headless.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(sub, common)  # import, datasets, backbones
    train.register(sub, common)  # train, evaluate, predict
    runs.register(sub, common)  # runs, show, delete
    evaluate.register(sub, common)  # cv, compare, curve
    explain.register(sub, common)  # explain, report
    return parser


def _failed(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json({"error": message})
    print(f"error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (argparse exits with 2 on bad usage, 0 after ``--help``)."""
    args = build_parser().parse_args(argv)
    for name, default in (("json", False), ("quiet", False), ("workspace", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    try:
        setup()  # before any engine import: malloc/OpenMP tuning, threads (TLCORE_THREADS), TLCORE_PLUGINS
    except (ValueError, ImportError) as exc:  # a bad TLCORE_THREADS or TLCORE_PLUGINS: the message names it
        return _failed(args, str(exc))
    try:
        ws = default_workspace(args.workspace)
        out = args.handler(args, ws)
    except TlcoreError as exc:
        return _failed(args, str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print_json(out)
    return 0
