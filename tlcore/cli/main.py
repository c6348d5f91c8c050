"""``python -m tlcore``: everything the app does, from the command line.

Every subcommand takes ``--workspace DIR`` (default ``$TLCORE_WORKSPACE`` or ``~/.tlcore/workspace``) and ``--json``
(print one JSON object on stdout instead of text; progress always goes to stderr). Exit codes: 0 success, 1 a
problem with the input or the run (the message says what), 2 bad command-line usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tlcore.errors import TlcoreError
from tlcore.events import EpochEnd, Event, Message, PhaseStarted, Progress
from tlcore.workspace import Workspace, default_workspace

STRATEGIES = ("feature-extraction", "fine-tune", "full", "gradual", "scratch")
Handler = Callable[[argparse.Namespace, Workspace], dict[str, Any]]


# ---------------------------------------------------------------------------------------------------------------
# Output


class StderrProgress:
    """Prints progress events to stderr: a line per phase and epoch, and an in-place counter when on a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last_phase = ""

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, PhaseStarted) and not event.phase.startswith("epoch"):
            print(f"[{event.phase}] {event.message or ''}".rstrip(), file=sys.stderr)
        elif isinstance(event, Progress) and self.tty:
            eta = f", ~{event.eta:.0f}s left" if event.eta is not None else ""
            print(f"\r  {event.phase}: {event.done}/{event.total}{eta}   ", end="", file=sys.stderr)
            if event.done >= event.total:
                print(file=sys.stderr)
        elif isinstance(event, EpochEnd):
            fold = f"fold {event.fold} " if event.fold is not None else ""
            print(f"  {fold}epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                  f"val loss {event.val_loss:.4f}, val accuracy {event.val_accuracy:.3f} "
                  f"({event.elapsed:.1f}s)", file=sys.stderr)
        elif isinstance(event, Message):
            prefix = "warning: " if event.level == "warning" else ""
            print(f"  {prefix}{event.text}", file=sys.stderr)


def _print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------------------------
# Commands


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
    from tlcore.models.backbones import list_backbones

    rows = [{"name": b.name, "label": b.label, "source": b.source, "offline": b.offline,
             "input_size": b.input_size, "params": b.num_params} for b in list_backbones()]
    if not args.json:
        for r in rows:
            where = "offline" if r["offline"] else "needs download"
            print(f"{r['name']:<40} {r['input_size']:>4}px {r['params'] / 1e6:>7.1f}M  {where}")
    return {"backbones": rows}


def build_train_config(args: argparse.Namespace):
    """A TrainConfig from the command-line options (defaults are TrainConfig's own)."""
    from tlcore.data.augment import AugmentConfig
    from tlcore.train.loop import TrainConfig
    from tlcore.train.strategies import StrategyConfig

    d_s, d_a, d_t = StrategyConfig(), AugmentConfig(), TrainConfig()

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    strategy = StrategyConfig(
        name=args.strategy, fine_tune_groups=pick(args.fine_tune_groups, d_s.fine_tune_groups),
        unfreeze_every=pick(args.unfreeze_every, d_s.unfreeze_every), head_lr=pick(args.lr, d_s.head_lr),
        backbone_lr_ratio=pick(args.backbone_lr_ratio, d_s.backbone_lr_ratio),
        lr_decay=pick(args.lr_decay, d_s.lr_decay), head=pick(args.head, d_s.head),
        hidden=pick(args.hidden, d_s.hidden), dropout=pick(args.dropout, d_s.dropout))
    if args.no_augment:
        augment = AugmentConfig(hflip=False, vflip=False, rotation=0.0, scale_min=1.0, color=0.0)
    else:
        augment = AugmentConfig(hflip=pick(args.hflip, d_a.hflip), vflip=pick(args.vflip, d_a.vflip),
                                rotation=pick(args.rotation, d_a.rotation), scale_min=pick(args.scale_min, d_a.scale_min),
                                color=pick(args.color, d_a.color))
    return TrainConfig(
        backbone=args.backbone, strategy=strategy, epochs=args.epochs, batch_size=pick(args.batch_size, d_t.batch_size),
        weight_decay=pick(args.weight_decay, d_t.weight_decay),
        label_smoothing=pick(args.label_smoothing, d_t.label_smoothing), class_weighted=args.class_weighted,
        schedule=pick(args.schedule, d_t.schedule), patience=pick(args.patience, d_t.patience),
        monitor=pick(args.monitor, d_t.monitor), augment=augment, aug_views=pick(args.aug_views, d_t.aug_views),
        cache=not args.no_cache, val_fraction=pick(args.val_fraction, d_t.val_fraction),
        test_fraction=pick(args.test_fraction, d_t.test_fraction), seed=args.seed,
        weights_file=args.weights_file, image_size=args.image_size)


def summarize_run(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a run record a script needs: ids, metrics, timings."""
    keys = ("id", "dataset_id", "backbone", "strategy", "seed", "cache_mode", "best_epoch", "stopped_early",
            "trainable_params", "timings")
    out = {k: record.get(k) for k in keys}
    out["run_id"] = out.pop("id")
    out["test_metrics"] = record.get("test_metrics")
    out["val_metrics"] = record.get("val_metrics")
    return out


def cmd_train(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Train a model on an imported dataset and record the run."""
    from tlcore.data import load_dataset
    from tlcore.runs.store import get_run, save_run
    from tlcore.train.loop import train

    config = build_train_config(args)
    dataset = load_dataset(ws, args.dataset)
    result = train(ws, dataset, config, on_event=StderrProgress(args.quiet))
    run_id = save_run(ws, result, dataset, label=args.label or "")
    out = summarize_run(get_run(ws, run_id))
    if not args.json:
        m = result.test_metrics
        print(run_id)
        print(f"  test accuracy {m['accuracy']:.4f}, balanced accuracy {m['balanced_accuracy']:.4f}, "
              f"macro F1 {m['macro_f1']:.4f} on {m['n']} images; {result.timings['total']:.1f}s "
              f"(inputs: {result.cache_mode})", file=sys.stderr)
    return out


def cmd_evaluate(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Reload a run, predict its test split again and check the predictions match the recorded ones."""
    import numpy as np

    from tlcore.data import load_dataset
    from tlcore.data.augment import eval_transform
    from tlcore.metrics import classification_metrics
    from tlcore.models.inference import predict_stored
    from tlcore.runs.store import load_run

    run = load_run(ws, args.run)
    dataset = load_dataset(ws, run.dataset_id)
    hashes = [dataset.hashes[i] for i in run.split.test]
    probs = predict_stored(run.model, ws, hashes, eval_transform(run.data_config, run.image_size),
                           StderrProgress(args.quiet), phase="test")
    metrics = classification_metrics(dataset.labels[run.split.test], probs, run.classes)
    identical = bool(probs.shape == run.test_probs.shape and np.array_equal(probs, run.test_probs))
    max_diff = float(np.abs(probs - run.test_probs).max()) if probs.shape == run.test_probs.shape and probs.size else 0.0
    if not args.json:
        print(f"{args.run}: test accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
              f"on {metrics['n']} images; predictions {'identical to' if identical else 'differ from'} the "
              f"recorded ones (max difference {max_diff:.2e})")
    return {"run_id": args.run, "test_metrics": metrics, "identical_to_recorded": identical,
            "max_abs_difference": max_diff}


def cmd_predict(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Predict the top-k classes of new images with a saved run."""
    from tlcore.evaluate.predict import predict_images
    from tlcore.runs.store import load_run

    missing = [p for p in args.images if not Path(p).is_file()]
    if missing:
        raise TlcoreError(f"{missing[0]}: no such image file")
    run = load_run(ws, args.run)
    predictions = predict_images(run, [Path(p) for p in args.images], names=list(args.images), top_k=args.top_k)
    rows = [{"image": p.name, "top": [{"class": c, "probability": pr} for c, pr in p.top]} for p in predictions]
    if not args.json:
        for p in predictions:
            tops = ", ".join(f"{c} {pr:.1%}" for c, pr in p.top)
            print(f"{p.name}: {tops}")
    return {"run_id": args.run, "predictions": rows}


def cmd_runs(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """List recorded runs, newest first."""
    from dataclasses import asdict

    from tlcore.runs.store import list_runs

    runs = list_runs(ws, dataset_id=args.dataset, strategy=args.strategy, kind=args.kind)
    rows = [asdict(r) for r in runs]
    if not args.json:
        for r in runs:
            acc = f"{r.test_accuracy:.4f}" if r.test_accuracy is not None else "   -  "
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
            print(f"{r.id}  {when}  {r.kind:<8} {r.strategy:<18} {r.backbone:<28} test acc {acc}  "
                  f"{r.seconds:>7.1f}s  {r.dataset_id}")
        if not runs:
            print("no runs yet: try `python -m tlcore train --dataset ID`", file=sys.stderr)
    return {"runs": rows}


def cmd_show(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Show one run's record."""
    from tlcore.runs.store import get_run

    record = get_run(ws, args.run)
    if not args.json:
        s = summarize_run(record)
        for k, v in s.items():
            if k in ("test_metrics", "val_metrics") and v:
                v = {m: _fmt(v.get(m)) for m in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss")}
            print(f"{k}: {v}")
    return record


def cmd_delete(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Delete a run."""
    from tlcore.runs.store import delete_run

    delete_run(ws, args.run)
    if not args.json:
        print(f"deleted {args.run}")
    return {"deleted": args.run}


# ---------------------------------------------------------------------------------------------------------------
# Parser


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS,
                        help="workspace folder (default: $TLCORE_WORKSPACE or ~/.tlcore/workspace)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON object on stdout instead of text")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress on stderr")
    return common


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from tlcore.models.backbones import DEFAULT_BACKBONE

    p.add_argument("--dataset", required=True, help="dataset id (from `import` or `datasets`)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help=f"backbone: {DEFAULT_BACKBONE} (default, offline), efficientnet_lite1/2, timm/<name>, "
                        "torchvision/<name>; see `backbones`")
    p.add_argument("--strategy", default="feature-extraction", choices=STRATEGIES,
                   help="how to transfer: frozen backbone + new head, fine-tune the last groups, full fine-tuning, "
                        "gradual unfreezing, or from scratch (random init, no transfer)")
    p.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, initialisation and shuffling (default 0)")
    g = p.add_argument_group("strategy settings")
    g.add_argument("--fine-tune-groups", type=int, help="fine-tune: how many of the last block groups train (2)")
    g.add_argument("--unfreeze-every", type=int, help="gradual: unfreeze one more group every K epochs (2)")
    g.add_argument("--lr", type=float, help="learning rate of the new head (3e-3)")
    g.add_argument("--backbone-lr-ratio", type=float,
                   help="pretrained groups learn this fraction of the head's rate (0.1 = 10x slower)")
    g.add_argument("--lr-decay", type=float, help="each group further down learns this much slower again (1.0)")
    g.add_argument("--head", choices=("linear", "mlp"), help="new head: linear (default) or an MLP with dropout")
    g.add_argument("--hidden", type=int, help="MLP head width (256)")
    g.add_argument("--dropout", type=float, help="dropout before the head's layers (0.2)")
    t = p.add_argument_group("training settings")
    t.add_argument("--batch-size", type=int, help="mini-batch size (32)")
    t.add_argument("--weight-decay", type=float, help="AdamW weight decay (1e-4)")
    t.add_argument("--label-smoothing", type=float, help="label smoothing (0)")
    t.add_argument("--class-weighted", action="store_true", help="weight the loss by inverse class frequency")
    t.add_argument("--schedule", choices=("cosine", "onecycle", "constant"), help="learning-rate schedule (cosine)")
    t.add_argument("--patience", type=int, help="early stopping patience in epochs, 0 = off (3)")
    t.add_argument("--monitor", choices=("val_loss", "val_accuracy", "val_balanced_accuracy"),
                   help="validation metric for early stopping and best weights (val_loss)")
    t.add_argument("--val-fraction", type=float, help="validation fraction (0.15)")
    t.add_argument("--test-fraction", type=float, help="test fraction (0.15)")
    t.add_argument("--weights-file", help="local pretrained weights (.safetensors, .pth) instead of the default")
    t.add_argument("--image-size", type=int, help="input size in px (default: the backbone's own)")
    t.add_argument("--no-cache", action="store_true",
                   help="run the frozen part every epoch instead of caching it (for measuring only)")
    a = p.add_argument_group("augmentation")
    a.add_argument("--no-augment", action="store_true", help="switch every augmentation off")
    a.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None, help="random horizontal flip (on)")
    a.add_argument("--vflip", action=argparse.BooleanOptionalAction, default=None, help="random vertical flip (off)")
    a.add_argument("--rotation", type=float, help="max rotation in degrees, 0 = off (15)")
    a.add_argument("--scale-min", type=float, help="random crop keeps at least this area fraction, 1 = off (0.8)")
    a.add_argument("--color", type=float, help="colour jitter strength, 0 = off (0.2)")
    a.add_argument("--aug-views", type=int, help="augmented views per image cached when the backbone is frozen (4)")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m tlcore`` argument parser."""
    common = _common()
    parser = argparse.ArgumentParser(prog="python -m tlcore", parents=[common],
                                     description="The transfer-learning workbench's engine, headless.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("import", cmd_import, "import a dataset from a folder of class folders, a .zip, a .csv of labels, "
                                  "or the built-in demo; prints the dataset id")
    p.add_argument("source", help="'demo', a folder, a .zip file, or a .csv (file name, label) beside the images")
    p.add_argument("--name", help="dataset name (default: the folder or file name)")
    add("datasets", cmd_datasets, "list imported datasets")
    add("backbones", cmd_backbones, "list the backbones on offer")
    _add_train_options(add("train", cmd_train, "train a model on a dataset and record the run"))
    sub.choices["train"].add_argument("--label", help="a note to remember the run by")
    p = add("evaluate", cmd_evaluate, "re-run a saved run's test predictions and check them against the record")
    p.add_argument("--run", required=True, help="run id")
    p = add("predict", cmd_predict, "top-k classes for new images with a saved run")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show per image (3)")
    p.add_argument("images", nargs="+", help="image files")
    p = add("runs", cmd_runs, "list recorded runs, newest first")
    p.add_argument("--dataset", help="only runs on this dataset id")
    p.add_argument("--strategy", help="only runs with this strategy")
    p.add_argument("--kind", help="only runs of this kind (train, cv, compare, curve)")
    p = add("show", cmd_show, "show one run's record")
    p.add_argument("--run", required=True, help="run id")
    p = add("delete", cmd_delete, "delete a run")
    p.add_argument("--run", required=True, help="run id")
    for register in _extensions():
        register(sub, common)
    return parser


def _extensions() -> list[Callable[[Any, argparse.ArgumentParser], None]]:
    """Subcommands that live beside their features (cross-validation, explanations, jobs)."""
    from tlcore.cli.extensions import EXTENSIONS

    return list(EXTENSIONS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("json", False), ("quiet", False), ("workspace", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    try:
        ws = default_workspace(args.workspace)
        out = args.handler(args, ws)
    except TlcoreError as exc:
        if args.json:
            _print_json({"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        _print_json(out)
    return 0
