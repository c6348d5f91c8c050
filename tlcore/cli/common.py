"""What every command module of the CLI shares: the common options, adding a subcommand, progress on stderr,
JSON and number printing, the training options and the :class:`~tlcore.train.config.TrainConfig` they build.

Torch-free: the parser is built from this module and the command modules without loading torch, timm or
torchvision; the engine is imported inside the functions that compute (the commands' handlers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tlcore.errors import TlcoreError
from tlcore.events import EpochEnd, Event, Message, PhaseStarted, Progress
from tlcore.metrics import SUMMARY_KEYS
from tlcore.models.registry import DEFAULT_BACKBONE, HEADS
from tlcore.train.config import MONITORS
from tlcore.train.schedules import SCHEDULES
from tlcore.train.strategies import STRATEGIES
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

Handler = Callable[[argparse.Namespace, Workspace], dict[str, Any]]
"""A command: takes the parsed options and the workspace, prints text (unless ``--json``), returns the JSON object."""

SUMMARY_METRICS = SUMMARY_KEYS  # the metrics a summary reports


# ---------------------------------------------------------------------------------------------------------------
# Output


class StderrProgress:
    """Prints progress events to stderr: a line per phase and epoch, and an in-place counter when on a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

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


def print_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as indented JSON on stdout (numpy scalars and arrays, and paths, become plain JSON)."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=json_default))


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for numpy values and paths.

    Raises:
        TypeError: for anything else, naming its type.
    """
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def fmt(value: Any) -> str:
    """A float with 4 decimals, anything else as ``str``."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def require_files(paths: Sequence[str], what: str = "image file") -> None:
    """Raise a clear error for the first of ``paths`` that is not a file.

    Raises:
        TlcoreError: ``"<path>: no such image file"``.
    """
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise TlcoreError(f"{missing[0]}: no such {what}")


# ---------------------------------------------------------------------------------------------------------------
# Parser pieces


def common_options() -> argparse.ArgumentParser:
    """The parent parser of every command: ``--workspace``, ``--json``, ``--quiet`` (accepted before or after it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS,
                        help="workspace folder (default: $TLCORE_WORKSPACE or ~/.tlcore/workspace)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON object on stdout instead of text")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress on stderr")
    return common


def add_command(sub: Any, common: argparse.ArgumentParser, name: str, handler: Handler, help_text: str,
                description: str | None = None, **kwargs: Any) -> argparse.ArgumentParser:
    """Add subcommand ``name`` running ``handler``; returns its parser for the command's own options.

    Args:
        sub: the main parser's subparsers action.
        common: the parent parser of :func:`common_options`.
        name: the command's name.
        handler: the :data:`Handler` that runs it.
        help_text: one line for the main ``--help`` (a literal ``%`` is fine: it is escaped for argparse).
        description: the command's own ``--help`` text (default: ``help_text``).
        **kwargs: passed on to ``add_parser`` (e.g. ``conflict_handler``).
    """
    p = sub.add_parser(name, parents=[common], help=help_text.replace("%", "%%"),
                       description=help_text if description is None else description, **kwargs)
    p.set_defaults(handler=handler)
    return p


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Add what :func:`build_train_config` reads: dataset, backbone, strategy, epochs, seed and the settings groups."""
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
    g.add_argument("--head", choices=HEADS, help="new head: linear (default) or an MLP with dropout")
    g.add_argument("--hidden", type=int, help="MLP head width (256)")
    g.add_argument("--dropout", type=float, help="dropout before the head's layers (0.2)")
    t = p.add_argument_group("training settings")
    t.add_argument("--batch-size", type=int, help="mini-batch size (32)")
    t.add_argument("--weight-decay", type=float, help="AdamW weight decay (1e-4)")
    t.add_argument("--label-smoothing", type=float, help="label smoothing (0)")
    t.add_argument("--class-weighted", action="store_true", help="weight the loss by inverse class frequency")
    t.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (cosine)")
    t.add_argument("--patience", type=int, help="early stopping patience in epochs, 0 = off (3)")
    t.add_argument("--monitor", choices=MONITORS,
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


# ---------------------------------------------------------------------------------------------------------------
# Configs and records


def build_train_config(args: argparse.Namespace) -> "TrainConfig":
    """A TrainConfig from the options of :func:`add_train_options` (an option not given keeps TrainConfig's default)."""
    from tlcore.data.augment import AugmentConfig
    from tlcore.train.config import TrainConfig
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
                                rotation=pick(args.rotation, d_a.rotation),
                                scale_min=pick(args.scale_min, d_a.scale_min), color=pick(args.color, d_a.color))
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
