"""What every command module of the CLI shares: the common options, adding a subcommand, progress on stderr,
text, JSON and number printing, numeric options checked against the configs' ranges, the training options and the
:class:`~tlcore.train.config.TrainConfig` they build.

All text output goes through :func:`say` (and JSON through :func:`print_json`), which escape control characters
(:mod:`tlcore.safe_text`): a class, file or dataset name cannot clear the screen or retitle the terminal. A numeric
option out of its range is refused by argparse with exit code 2, naming the option.

Torch-free: the parser is built from this module and the command modules without loading torch, timm or
torchvision; the engine is imported inside the functions that compute (the commands' handlers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tlcore.auto.config import AUTO, AUTO_LIMITS, AutoConfig
from tlcore.auto.config import KINDS as AUTO_KINDS
from tlcore.errors import TlcoreError
from tlcore.events import EpochEnd, Event, Leaderboard, Message, PhaseStarted, Progress
from tlcore.metrics import SUMMARY_KEYS
from tlcore.models.registry import DEFAULT_BACKBONE, HEADS
from tlcore.safe_text import terminal_json, terminal_text
from tlcore.train.config import AUGMENT_LIMITS, MONITORS, TRAIN_LIMITS
from tlcore.train.schedules import SCHEDULES
from tlcore.train.strategies import STRATEGIES, STRATEGY_LIMITS, Limit
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

Handler = Callable[[argparse.Namespace, Workspace], dict[str, Any]]
"""A command: takes the parsed options and the workspace, prints text (unless ``--json``), returns the JSON object."""

SUMMARY_METRICS = SUMMARY_KEYS  # the metrics a summary reports

# How a command uses its workspace (``add_command(..., workspace=...)``; :func:`tlcore.cli.main.main` opens it so):
CREATES = "create"  # makes it if missing, and it must be writable (import, train, cv, compare, curve)
WRITES = "write"  # it must exist and be writable (delete)
READS = "read"  # it must exist; nothing is created (show, evaluate, predict, explain, report)
LISTS = "list"  # a missing one lists nothing, saying so; nothing is created (datasets, runs)
IGNORES = "none"  # not used (backbones)


class UsageError(TlcoreError):
    """The command line asks for something that cannot work, found after parsing (options that clash): exit code 2."""


# ---------------------------------------------------------------------------------------------------------------
# Output


def say(text: Any = "", *, err: bool = False, end: str = "\n") -> None:
    """Print one line of text output on stdout (stderr with ``err``), every control character shown escaped
    (:func:`tlcore.safe_text.terminal_text`): the one way the commands print text."""
    print(terminal_text(text), end=end, file=sys.stderr if err else sys.stdout)


class StderrProgress:
    """Prints progress events to stderr: a line per phase and epoch, and an in-place counter when on a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, PhaseStarted) and not event.phase.startswith("epoch"):
            say(f"[{event.phase}] {event.message or ''}".rstrip(), err=True)
        elif isinstance(event, Progress) and self.tty:
            eta = f", ~{event.eta:.0f}s left" if event.eta is not None else ""
            print("\r" + terminal_text(f"  {event.phase}: {event.done}/{event.total}{eta}   "), end="", file=sys.stderr)
            if event.done >= event.total:
                print(file=sys.stderr)
        elif isinstance(event, EpochEnd):
            fold = f"fold {event.fold} " if event.fold is not None else ""
            say(f"  {fold}epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                f"val loss {event.val_loss:.4f}, val accuracy {event.val_accuracy:.3f} ({event.elapsed:.1f}s)",
                err=True)
        elif isinstance(event, Leaderboard):
            if event.message.startswith(("scoring", "refitting")):
                eta = f" (~{event.eta:.0f} s left)" if event.eta is not None else ""
                say(f"[auto {event.elapsed:.0f}/{event.budget:.0f} s] {event.message}{eta}", err=True)
        elif isinstance(event, Message):
            prefix = "warning: " if event.level == "warning" else ""
            say(f"  {prefix}{event.text}", err=True)


def print_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as indented JSON on stdout (numpy scalars and arrays, and paths, become plain JSON).

    Characters that ``json.dumps`` leaves raw but that steer a terminal (DEL, C1 controls, bidi overrides) or cannot
    be printed (lone surrogates from undecodable file names) are written as ``\\uXXXX`` escapes: same JSON value.
    """
    print(terminal_json(json.dumps(obj, indent=2, ensure_ascii=False, default=json_default)))


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
# Numeric options


def number(limit: Limit, kind: type = float) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads a ``kind`` (``int`` or ``float``) and refuses values outside ``limit``
    (NaN and infinities included): argparse then exits with code 2 and ``argument --dropout: must be in [0, 1)``."""
    integer = kind is int

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if integer else 'a number'}") from None
        problem = limit.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem} (got {text})")
        return value

    parse.__name__ = kind.__name__
    return parse


def whole(limit: Limit) -> Callable[[str], int]:
    """:func:`number` for a whole-number option."""
    return number(limit, int)


def number_list(limit: Limit) -> Callable[[str], list[float]]:
    """An argparse ``type=`` for comma-separated numbers, each within ``limit`` (at least one)."""
    one = number(limit)

    def parse(text: str) -> list[float]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"give at least one number, separated by commas (got {text!r})")
        try:
            return [one(p) for p in parts]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc}; give numbers separated by commas, each {limit.describe()}") \
                from None

    parse.__name__ = "list of numbers"
    return parse


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
                description: str | None = None, workspace: str = READS, **kwargs: Any) -> argparse.ArgumentParser:
    """Add subcommand ``name`` running ``handler``; returns its parser for the command's own options.

    Args:
        sub: the main parser's subparsers action.
        common: the parent parser of :func:`common_options`.
        name: the command's name.
        handler: the :data:`Handler` that runs it.
        help_text: one line for the main ``--help`` (a literal ``%`` is fine: it is escaped for argparse).
        description: the command's own ``--help`` text (default: ``help_text``).
        workspace: how it uses the workspace: :data:`CREATES`, :data:`WRITES`, :data:`READS` (default),
            :data:`LISTS` or :data:`IGNORES`.
        **kwargs: passed on to ``add_parser`` (e.g. ``conflict_handler``).
    """
    p = sub.add_parser(name, parents=[common], help=help_text.replace("%", "%%"),
                       description=help_text if description is None else description, **kwargs)
    p.set_defaults(handler=handler, workspace_use=workspace)
    return p


def add_train_options(p: argparse.ArgumentParser, auto: bool = False) -> None:
    """Add what :func:`build_train_config` reads: dataset, backbone, strategy, epochs, seed and the settings groups.

    With ``auto`` the strategy ``auto`` (the default there) and its options (``--budget``, ``--folds``,
    ``--candidates``, ``--only``) are offered too; :func:`build_auto_config` reads those.
    """
    p.add_argument("--dataset", required=True, help="dataset id (from `import` or `datasets`)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help=f"backbone: {DEFAULT_BACKBONE} (default, offline), efficientnet_lite1/2, timm/<name>, "
                        "torchvision/<name>; see `backbones`")
    p.add_argument("--strategy", default=AUTO if auto else "feature-extraction",
                   choices=((AUTO,) if auto else ()) + STRATEGIES,
                   help=("auto (default): choose by cross-validation among a linear probe, a trained head, "
                         "fine-tuning the last 1 or 2 groups, raw pixels and scratch, within --budget; or " if auto
                         else "how to transfer: ") +
                        "frozen backbone + new head, fine-tune the last groups, full fine-tuning, "
                        "gradual unfreezing, or from scratch (random init, no transfer)")
    p.add_argument("--epochs", type=whole(TRAIN_LIMITS["epochs"]), default=10, help="maximum epochs (default 10)")
    p.add_argument("--seed", type=whole(TRAIN_LIMITS["seed"]), default=0,
                   help="seed for the split, initialisation and shuffling (default 0)")
    s = STRATEGY_LIMITS
    g = p.add_argument_group("strategy settings")
    g.add_argument("--fine-tune-groups", type=whole(s["fine_tune_groups"]),
                   help="fine-tune: how many of the last block groups train (2)")
    g.add_argument("--unfreeze-every", type=whole(s["unfreeze_every"]),
                   help="gradual: unfreeze one more group every K epochs (2)")
    g.add_argument("--lr", type=number(s["head_lr"]), help="learning rate of the new head (3e-3)")
    g.add_argument("--backbone-lr-ratio", type=number(s["backbone_lr_ratio"]),
                   help="pretrained groups learn this fraction of the head's rate (0.1 = 10x slower)")
    g.add_argument("--lr-decay", type=number(s["lr_decay"]),
                   help="each group further down learns this much slower again (1.0)")
    g.add_argument("--head", choices=HEADS, help="new head: linear (default) or an MLP with dropout")
    g.add_argument("--hidden", type=whole(s["hidden"]), help="MLP head width (256)")
    g.add_argument("--dropout", type=number(s["dropout"]), help="dropout before the head's layers (0.2)")
    t = p.add_argument_group("training settings")
    t.add_argument("--batch-size", type=whole(TRAIN_LIMITS["batch_size"]), help="mini-batch size (32)")
    t.add_argument("--weight-decay", type=number(TRAIN_LIMITS["weight_decay"]), help="AdamW weight decay (1e-4)")
    t.add_argument("--label-smoothing", type=number(TRAIN_LIMITS["label_smoothing"]), help="label smoothing (0)")
    t.add_argument("--class-weighted", action="store_true", help="weight the loss by inverse class frequency")
    t.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (cosine)")
    t.add_argument("--patience", type=whole(TRAIN_LIMITS["patience"]),
                   help="early stopping patience in epochs, 0 = off (3)")
    t.add_argument("--monitor", choices=MONITORS,
                   help="validation metric for early stopping and best weights (val_loss)")
    t.add_argument("--val-fraction", type=number(TRAIN_LIMITS["val_fraction"]), help="validation fraction (0.15)")
    t.add_argument("--test-fraction", type=number(TRAIN_LIMITS["test_fraction"]), help="test fraction (0.15)")
    t.add_argument("--weights-file", help="local pretrained weights (.safetensors, .pth) instead of the default")
    t.add_argument("--image-size", type=whole(TRAIN_LIMITS["image_size"]),
                   help="input size in px, 16 to 4096 (default: the backbone's own)")
    t.add_argument("--no-cache", action="store_true",
                   help="run the frozen part every epoch instead of caching it (for measuring only)")
    a = p.add_argument_group("augmentation")
    a.add_argument("--no-augment", action="store_true", help="switch every augmentation off")
    a.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None, help="random horizontal flip (on)")
    a.add_argument("--vflip", action=argparse.BooleanOptionalAction, default=None, help="random vertical flip (off)")
    a.add_argument("--rotation", type=number(AUGMENT_LIMITS["rotation"]), help="max rotation in degrees, 0 = off (15)")
    a.add_argument("--scale-min", type=number(AUGMENT_LIMITS["scale_min"]),
                   help="random crop keeps at least this area fraction, 1 = off (0.8)")
    a.add_argument("--color", type=number(AUGMENT_LIMITS["color"]), help="colour jitter strength, 0 = off (0.2)")
    a.add_argument("--aug-views", type=whole(TRAIN_LIMITS["aug_views"]),
                   help="augmented views per image cached when the backbone is frozen (4)")
    if auto:
        d, lim = AutoConfig(), AUTO_LIMITS
        r = p.add_argument_group("auto recipe (--strategy auto)")
        r.add_argument("--budget", type=number(lim["budget"]), default=d.budget,
                       help=f"seconds for the whole search, refit and test included ({d.budget:g})")
        r.add_argument("--folds", type=whole(lim["folds"]), default=d.folds,
                       help=f"cross-validation folds every candidate is scored on ({d.folds})")
        r.add_argument("--candidates", type=_kind_list, default=None,
                       help=f"comma-separated kinds to consider: {','.join(AUTO_KINDS)} (all)")
        r.add_argument("--probe-backbones", type=_names, default=None,
                       help=f"comma-separated backbones whose features get a linear probe, besides --backbone "
                            f"({','.join(d.backbones)})")
        r.add_argument("--only", default="",
                       help="score and refit just this candidate (a name from a leaderboard, e.g. "
                            "probe:efficientnet_lite0)")
    p.set_defaults(check=check_train_options)


def _kind_list(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in AUTO_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: use one or more of {', '.join(AUTO_KINDS)}")
    return kinds


def _check_only(name: str) -> None:
    from tlcore.auto.candidates import candidate_from_name

    if name:
        try:
            candidate_from_name(name)
        except ValueError as exc:
            raise UsageError(f"--only: {exc}") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: name at least one backbone")
    return names


def build_auto_config(args: argparse.Namespace) -> AutoConfig:
    """The AutoConfig from the options :func:`add_train_options` adds with ``auto=True``."""
    backbones = args.probe_backbones if args.probe_backbones is not None else AutoConfig().backbones
    return AutoConfig(budget=args.budget, folds=args.folds, kinds=args.candidates or AUTO_KINDS, only=args.only,
                      backbones=backbones, max_epochs=args.epochs)  # --epochs: at most this many per training


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
        name="feature-extraction" if args.strategy == AUTO else args.strategy, fine_tune_groups=pick(args.fine_tune_groups, d_s.fine_tune_groups),
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


def check_train_options(args: argparse.Namespace) -> None:
    """Refuse training options that clash, before anything is created (each alone was checked by argparse).

    Raises:
        UsageError: naming the options, e.g. ``--val-fraction`` and ``--test-fraction`` leaving nothing to train on.
    """
    from tlcore.train.config import TrainConfig

    d = TrainConfig()
    val = d.val_fraction if args.val_fraction is None else args.val_fraction
    test = d.test_fraction if args.test_fraction is None else args.test_fraction
    if val + test >= 1:
        raise UsageError(f"--val-fraction {val} + --test-fraction {test}: together they must stay below 1, to leave "
                         "images to train on")
    try:
        build_train_config(args).check()
        if getattr(args, "strategy", None) == AUTO:
            build_auto_config(args).check()
            _check_only(args.only)
    except TlcoreError as exc:  # the options were checked one by one; what is left names the setting
        raise UsageError(str(exc)) from None


def summarize_run(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a run record a script needs: ids, metrics, timings."""
    keys = ("id", "dataset_id", "backbone", "strategy", "seed", "cache_mode", "best_epoch", "stopped_early",
            "trainable_params", "timings")
    out = {k: record.get(k) for k in keys}
    out["run_id"] = out.pop("id")
    out["test_metrics"] = record.get("test_metrics")
    out["val_metrics"] = record.get("val_metrics")
    return out
