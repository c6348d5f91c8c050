"""``python -m tlcore``: everything the app does, from the command line.

Every subcommand takes ``--workspace DIR`` (default ``$TLCORE_WORKSPACE`` or ``~/.tlcore/workspace``) and ``--json``
(print one JSON object on stdout instead of text; progress always goes to stderr). Exit codes: 0 success, 1 a
problem with the input or the run (the message says what), 2 bad command-line usage (an option out of its range
included), 130 interrupted.

Only ``import``, ``train``, ``lr-find``, ``cv``, ``compare`` and ``curve`` create a missing workspace; the others create
nothing (``datasets`` and ``runs`` list nothing, the rest fail saying there is no workspace there). An empty path,
a file, or a read-only folder for a command that writes is refused with a message naming it.

This module builds the parser from the command modules (each adds its subcommands with ``register``) and dispatches;
it never loads torch: the command modules import the engine inside their handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from tlcore.cli import data, evaluate, explain, runs, train
from tlcore.cli.common import CREATES, READS, WRITES, UsageError, common_options, print_json
from tlcore.errors import TlcoreError
from tlcore.runtime import setup
from tlcore.safe_text import terminal_text
from tlcore.workspace import ENV_VAR, Workspace, WorkspaceError, default_workspace


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m tlcore`` argument parser (commands listed in this order in ``--help``)."""
    common = common_options()
    parser = argparse.ArgumentParser(prog="python -m tlcore", parents=[common],
                                     description="The transfer-learning workbench's engine, headless.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(sub, common)  # import, datasets, backbones
    train.register(sub, common)  # train, lr-find, evaluate, predict
    runs.register(sub, common)  # runs, show, delete
    evaluate.register(sub, common)  # cv, compare, curve
    explain.register(sub, common)  # explain, report
    return parser


def _failed(args: argparse.Namespace, message: str, code: int = 1) -> int:
    if args.json:
        print_json({"error": message})
    prog = f"python -m tlcore {args.command}: " if code == 2 else ""
    print(f"{prog}error: {terminal_text(message, keep_newlines=True)}", file=sys.stderr)
    return code


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The command's workspace, opened as its ``workspace_use`` asks (see :mod:`tlcore.cli.common`).

    Raises:
        WorkspaceError: the path is empty or a file; a command that writes finds it read-only or missing (``delete``).
    """
    use = getattr(args, "workspace_use", READS)
    ws = default_workspace(args.workspace, create=use == CREATES)
    if use == WRITES and not ws.exists():
        raise WorkspaceError(_no_workspace(ws))
    if use in (CREATES, WRITES):
        ws.check_writable()
    return ws


def _no_workspace(ws: Workspace) -> str:
    return (f"no workspace at {ws.root}: nothing has been imported or trained there (check --workspace or "
            f"${ENV_VAR}; `import` creates one)")


def _run(args: argparse.Namespace, ws: Workspace) -> dict:
    """Run the command; a command that reads, failing where there is no workspace, says so too (it created none)."""
    try:
        return args.handler(args, ws)
    except TlcoreError as exc:
        if getattr(args, "workspace_use", READS) == READS and not ws.exists():
            raise TlcoreError(f"{exc} (there is no workspace at {ws.root}: check --workspace or ${ENV_VAR}; "
                              "`import` creates one)") from None
        raise


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
        check = getattr(args, "check", None)
        if check is not None:
            check(args)  # options that clash, before anything is created
        out = _run(args, open_workspace(args))
    except UsageError as exc:
        return _failed(args, str(exc), code=2)
    except TlcoreError as exc:
        return _failed(args, str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print_json(out)
    return 0
