"""``python -m tlcore cv | compare | curve``: cross-validation, strategy comparison and the data-efficiency curve.

Each records its result in the run store (kinds ``cv``, ``compare``, ``curve``) exactly as the Cross-validation page
does, and with ``--json`` prints one JSON object that includes the per-fold metrics.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from tlcore.cli.common import (
    CREATES,
    SUMMARY_METRICS,
    StderrProgress,
    add_command,
    add_train_options,
    build_train_config,
    number_list,
    say,
    whole,
)
from tlcore.evaluate.choices import CHOICES
from tlcore.train.config import TRAIN_LIMITS
from tlcore.train.strategies import Limit
from tlcore.workspace import Workspace

FOLDS = Limit(2, integer=True)  # k-fold needs two folds at least (the data decides how many it can have)
FRACTIONS = Limit(0, 1, low_open=True)  # shares of a fold's training part


def _scratch_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    changes: dict[str, Any] = {}
    if args.scratch_epochs is not None:
        changes["epochs"] = args.scratch_epochs
    if args.scratch_image_size is not None:
        changes["image_size"] = args.scratch_image_size
    return {"scratch": changes} if changes else {}


def _reused(args: argparse.Namespace, ws: Workspace, dataset, kind: str):
    from tlcore.evaluate.records import reused_folds

    return reused_folds(ws, {"reuse_folds_from": args.reuse_folds}, dataset, kind) if args.reuse_folds else None


def _fmt_summary(summary: dict[str, Any], metric: str) -> str:
    s = summary[metric]
    if math.isnan(s["ci_half_width"]):
        return f"{s['mean']:.4f}"
    return f"{s['mean']:.4f} ± {s['std']:.4f} (95% CI {s['ci_low']:.4f} to {s['ci_high']:.4f})"


def cmd_cv(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Cross-validate one strategy and record the run."""
    from tlcore.data import load_dataset
    from tlcore.evaluate.cv import cross_validate
    from tlcore.evaluate.records import save_evaluation, summarize_evaluation
    from tlcore.runs.records import get_run

    config = build_train_config(args)
    dataset = load_dataset(ws, args.dataset)
    result = cross_validate(ws, dataset, config, args.folds, StderrProgress(args.quiet),
                            folds=_reused(args, ws, dataset, "cv"))
    run_id = save_evaluation(ws, result, args.label or "")
    out = summarize_evaluation(get_run(ws, run_id))
    if not args.json:
        say(run_id)
        for row in out["fold_metrics"]:
            say(f"  fold {row['fold']}: accuracy {row['accuracy']:.4f}, balanced accuracy "
                f"{row['balanced_accuracy']:.4f}, macro F1 {row['macro_f1']:.4f} on {row['n_test']} images "
                f"({row['seconds']:.1f}s)", err=True)
        for metric in SUMMARY_METRICS:
            say(f"  {metric}: {_fmt_summary(out['summary'], metric)}", err=True)
        say(f"  {result.k} folds in {result.result.seconds:.1f}s", err=True)
    return out


def cmd_compare(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Compare strategies on the same folds and record the comparison."""
    from tlcore.data import load_dataset
    from tlcore.evaluate.compare import compare_strategies
    from tlcore.evaluate.records import save_evaluation, summarize_evaluation
    from tlcore.runs.records import get_run

    config = build_train_config(args)
    dataset = load_dataset(ws, args.dataset)
    result = compare_strategies(ws, dataset, config, args.strategies.split(","), args.folds, args.metric,
                                StderrProgress(args.quiet), folds=_reused(args, ws, dataset, "compare"),
                                overrides=_scratch_overrides(args))
    run_id = save_evaluation(ws, result, args.label or "")
    out = summarize_evaluation(get_run(ws, run_id))
    if not args.json:
        say(run_id)
        for row in out["rows"]:
            star = "*" if row["best"] else " "
            say(f" {star}{row['label']:<34} {args.metric} {row[args.metric]:.4f} ± {row[args.metric + '_ci']:.4f}"
                f"  {row['seconds']:>8.1f}s  {row['trainable_params']:>11,} trainable", err=True)
        say(f"  {out['verdict']['text']}", err=True)
        if out["verdict"]["transfer_text"]:
            say(f"  {out['verdict']['transfer_text']}", err=True)
    return out


def cmd_curve(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Draw the data-efficiency curve and record it."""
    from tlcore.data import load_dataset
    from tlcore.evaluate.curve import data_efficiency_curve
    from tlcore.evaluate.records import save_evaluation, summarize_evaluation
    from tlcore.runs.records import get_run

    fractions = args.fractions  # checked by argparse: numbers in (0, 1]
    config = build_train_config(args)
    dataset = load_dataset(ws, args.dataset)
    result = data_efficiency_curve(ws, dataset, config, args.strategies.split(","), fractions, args.folds,
                                   args.metric, StderrProgress(args.quiet), folds=_reused(args, ws, dataset, "curve"),
                                   overrides=_scratch_overrides(args))
    run_id = save_evaluation(ws, result, args.label or "")
    out = summarize_evaluation(get_run(ws, run_id))
    if not args.json:
        say(run_id)
        for p in out["points"]:
            say(f"  {p['label']:<34} {p['fraction']:>5.0%} ({p['images_per_class']:>7.1f} per class): "
                f"{args.metric} {p['mean']:.4f} ± {p['std']:.4f}", err=True)
    return out


def _add_fold_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--folds", type=whole(FOLDS), default=5, help="number of folds k, 2 or more (default 5)")
    p.add_argument("--reuse-folds", metavar="RUN", help="reuse the folds saved with this cv/compare/curve run")
    p.add_argument("--label", help="a note to remember the run by")


def _add_multi_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--strategies", default=default,
                   help=f"comma-separated, from: {', '.join(CHOICES)} ('pixels' = logistic regression on raw "
                        f"pixels, no deep learning); default {default}")
    p.add_argument("--strategy", default="feature-extraction", help=argparse.SUPPRESS)
    p.add_argument("--metric", default="accuracy", choices=SUMMARY_METRICS,
                   help="what 'best' means (accuracy)")
    p.add_argument("--scratch-epochs", type=whole(TRAIN_LIMITS["epochs"]),
                   help="epochs for from-scratch only (default: --epochs)")
    p.add_argument("--scratch-image-size", type=whole(TRAIN_LIMITS["image_size"]),
                   help="input size in px for from-scratch only (default: --image-size)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``cv``, ``compare`` and ``curve`` subcommands."""
    p = add_command(sub, common, "cv", cmd_cv,
                    "stratified k-fold cross-validation of one strategy (per-fold metrics, mean ± std, 95% CI)",
                    workspace=CREATES)
    add_train_options(p)
    _add_fold_options(p)

    p = add_command(sub, common, "compare", cmd_compare,
                    "compare strategies (and a raw-pixel baseline) on the same folds and seeds",
                    workspace=CREATES, conflict_handler="resolve")
    add_train_options(p)
    _add_fold_options(p)
    _add_multi_options(p, "feature-extraction,scratch,pixels")

    p = add_command(sub, common, "curve", cmd_curve,
                    "data-efficiency curve: the metric against training images per class, with the spread over folds",
                    workspace=CREATES, conflict_handler="resolve")
    add_train_options(p)
    _add_fold_options(p)
    _add_multi_options(p, "feature-extraction,scratch,pixels")
    p.add_argument("--fractions", type=number_list(FRACTIONS), default="0.1,0.25,0.5,1",
                   help="shares of each fold's training part (0.1,0.25,0.5,1)")
