"""``python -m tlcore import | datasets | backbones``: bring a dataset in, list the datasets and the backbones."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tlcore.cli.common import CREATES, IGNORES, LISTS, add_command, say
from tlcore.errors import TlcoreError
from tlcore.workspace import Workspace


def cmd_import(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Import a dataset (folder, zip, CSV, or ``demo``) and print its id."""
    from tlcore.data import import_demo, import_path

    if args.source == "demo":
        dataset, report = import_demo(ws)
    else:
        path = Path(args.source)
        if not path.exists():
            raise TlcoreError(f"{args.source}: no such file or folder (give a folder of class folders, a .zip, "
                              "a .csv of labels, or 'demo')")
        dataset, report = import_path(ws, path, name=args.name)
    out = {"dataset_id": dataset.id, "name": dataset.name, "classes": list(dataset.classes),
           "images": len(dataset.records), "class_counts": dataset.class_counts(),
           "skipped": [{"name": s.name, "reason": s.reason} for s in report.skipped],
           "warnings": list(report.warnings)}
    if not args.json:
        say(dataset.id)
        say(f"  {dataset.name}: {len(dataset.records)} images in {len(dataset.classes)} classes", err=True)
        for s in report.skipped:
            say(f"  skipped {s.name}: {s.reason}", err=True)
        for w in report.warnings:
            say(f"  warning: {w}", err=True)
    return out


def cmd_datasets(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List imported datasets."""
    from tlcore.data import list_datasets
    from tlcore.data.dataset import damaged_datasets

    if not ws.exists():
        say(f"no workspace at {ws.root} yet, so no datasets: `python -m tlcore import demo` creates it", err=True)
        return {"datasets": [], "damaged": []}
    rows = [{"dataset_id": d.id, "name": d.name, "images": len(d.records), "classes": len(d.classes)}
            for d in (list_datasets(ws) if ws.datasets.is_dir() else ())]
    if not args.json:
        for r in rows:
            say(f"{r['dataset_id']}  {r['images']:>6} images  {r['classes']:>3} classes  {r['name']}")
        if not rows:
            say("no datasets yet: try `python -m tlcore import demo`", err=True)
    damaged = [{"dataset_id": d.id, "path": str(d.path), "reason": d.reason, "usable": d.usable}
               for d in (damaged_datasets(ws) if ws.datasets.is_dir() else ())]  # listed, never deleted
    if not args.json:
        for d in damaged:
            say(f"damaged: {d['reason']}", err=True)
    return {"datasets": rows, "damaged": damaged}


def cmd_backbones(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List the backbones on offer, with size, input size and whether weights are available offline."""
    from tlcore.models.registry import list_backbones

    rows = [{"name": b.name, "label": b.label, "source": b.source, "offline": b.offline,
             "input_size": b.input_size, "params": b.num_params} for b in list_backbones()]
    if not args.json:
        for r in rows:
            where = "offline" if r["offline"] else "needs download"
            say(f"{r['name']:<40} {r['input_size']:>4}px {r['params'] / 1e6:>7.1f}M  {where}")
    return {"backbones": rows}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``import``, ``datasets`` and ``backbones`` subcommands."""
    p = add_command(sub, common, "import", cmd_import, "import a dataset from a folder of class folders, a .zip, "
                                                       "a .csv of labels, or the built-in demo; prints the dataset id",
                    workspace=CREATES)
    p.add_argument("source", help="'demo', a folder, a .zip file, or a .csv (file name, label) beside the images")
    p.add_argument("--name", help="dataset name (default: the folder or file name)")
    add_command(sub, common, "datasets", cmd_datasets, "list imported datasets", workspace=LISTS)
    add_command(sub, common, "backbones", cmd_backbones, "list the backbones on offer", workspace=IGNORES)
