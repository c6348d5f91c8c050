"""``python -m tlcore runs | show | delete``: the run store, read and pruned without loading a model (torch-free)."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

from tlcore.cli.common import LISTS, SUMMARY_METRICS, WRITES, add_command, fmt, say, summarize_run
from tlcore.workspace import Workspace


def cmd_runs(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List recorded runs, newest first."""
    from tlcore.runs.records import list_runs

    if not ws.exists():
        say(f"no workspace at {ws.root} yet, so no runs: `python -m tlcore import demo` creates it", err=True)
        return {"runs": []}
    runs = list_runs(ws, dataset_id=args.dataset, strategy=args.strategy, kind=args.kind) if ws.runs.is_dir() else []
    rows = [asdict(r) for r in runs]
    if not args.json:
        for r in runs:
            acc = f"{r.test_accuracy:.4f}" if r.test_accuracy is not None else "   -  "
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
            say(f"{r.id}  {when}  {r.kind:<8} {r.strategy:<18} {r.backbone:<28} test acc {acc}  "
                f"{r.seconds:>7.1f}s  {r.dataset_id}")
        for r in runs:
            if r.damaged:  # kind "damaged" above; the reason here (and under "damaged" with --json)
                say(f"damaged: {r.damaged}", err=True)
        if not runs:
            say("no runs yet: try `python -m tlcore train --dataset ID`", err=True)
    return {"runs": rows}


def cmd_show(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Show one run's record."""
    from tlcore.runs.records import get_run

    record = get_run(ws, args.run)
    if not args.json:
        s = summarize_run(record)
        for k, v in s.items():
            if k in ("test_metrics", "val_metrics") and v:
                v = {m: fmt(v.get(m)) for m in SUMMARY_METRICS}
            say(f"{k}: {v}")
    return record


def cmd_delete(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Delete a run."""
    from tlcore.runs.records import delete_run

    delete_run(ws, args.run)
    if not args.json:
        say(f"deleted {args.run}")
    return {"deleted": args.run}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``runs``, ``show`` and ``delete`` subcommands."""
    p = add_command(sub, common, "runs", cmd_runs, "list recorded runs, newest first", workspace=LISTS)
    p.add_argument("--dataset", help="only runs on this dataset id")
    p.add_argument("--strategy", help="only runs with this strategy")
    p.add_argument("--kind", help="only runs of this kind (train, cv, compare, curve)")
    p = add_command(sub, common, "show", cmd_show, "show one run's record")
    p.add_argument("--run", required=True, help="run id")
    p = add_command(sub, common, "delete", cmd_delete, "delete a run", workspace=WRITES)
    p.add_argument("--run", required=True, help="run id")
