"""``python -m tlcore import | datasets | backbones``: bring a dataset in, list the datasets and the backbones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tlcore.cli.common import add_command
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
        print(dataset.id)
        print(f"  {dataset.name}: {len(dataset.records)} images in {len(dataset.classes)} classes", file=sys.stderr)
        for s in report.skipped:
            print(f"  skipped {s.name}: {s.reason}", file=sys.stderr)
        for w in report.warnings:
            print(f"  warning: {w}", file=sys.stderr)
    return out


def cmd_datasets(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List imported datasets."""
    from tlcore.data import list_datasets

    rows = [{"dataset_id": d.id, "name": d.name, "images": len(d.records), "classes": len(d.classes)}
            for d in list_datasets(ws)]
    if not args.json:
        for r in rows:
            print(f"{r['dataset_id']}  {r['images']:>6} images  {r['classes']:>3} classes  {r['name']}")
        if not rows:
            print("no datasets yet: try `python -m tlcore import demo`", file=sys.stderr)
    return {"datasets": rows}


def cmd_backbones(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List the backbones on offer, with size, input size and whether weights are available offline."""
    from tlcore.models.registry import list_backbones

    rows = [{"name": b.name, "label": b.label, "source": b.source, "offline": b.offline,
             "input_size": b.input_size, "params": b.num_params} for b in list_backbones()]
    if not args.json:
        for r in rows:
            where = "offline" if r["offline"] else "needs download"
            print(f"{r['name']:<40} {r['input_size']:>4}px {r['params'] / 1e6:>7.1f}M  {where}")
    return {"backbones": rows}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``import``, ``datasets`` and ``backbones`` subcommands."""
    p = add_command(sub, common, "import", cmd_import, "import a dataset from a folder of class folders, a .zip, "
                                                       "a .csv of labels, or the built-in demo; prints the dataset id")
    p.add_argument("source", help="'demo', a folder, a .zip file, or a .csv (file name, label) beside the images")
    p.add_argument("--name", help="dataset name (default: the folder or file name)")
    add_command(sub, common, "datasets", cmd_datasets, "list imported datasets")
    add_command(sub, common, "backbones", cmd_backbones, "list the backbones on offer")
