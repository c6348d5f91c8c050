"""``python -m tlcore train | lr-find | evaluate | predict``: train and record a run, find a learning rate, re-check a
saved run, predict new images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from tlcore.cli.common import (
    CREATES,
    StderrProgress,
    UsageError,
    add_command,
    add_train_options,
    build_auto_config,
    build_train_config,
    check_train_options,
    number,
    require_files,
    say,
    summarize_run,
    whole,
)
from tlcore.auto.config import AUTO
from tlcore.train.lr_find import LR_FIND_LIMITS, LRFindSettings
from tlcore.train.strategies import Limit
from tlcore.workspace import Workspace


def cmd_train(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Train a model on an imported dataset and record the run."""
    from tlcore.data import load_dataset
    from tlcore.runs.records import get_run
    from tlcore.runs.store import save_run
    from tlcore.train.loop import train

    config = build_train_config(args)
    dataset = load_dataset(ws, args.dataset)
    if args.strategy == AUTO:
        return _train_auto(args, ws, config, dataset)
    result = train(ws, dataset, config, on_event=StderrProgress(args.quiet))
    run_id = save_run(ws, result, dataset, label=args.label or "")
    out = summarize_run(get_run(ws, run_id))
    if not args.json:
        m = result.test_metrics
        say(run_id)
        say(f"  test accuracy {m['accuracy']:.4f}, balanced accuracy {m['balanced_accuracy']:.4f}, "
            f"macro F1 {m['macro_f1']:.4f} on {m['n']} images; {result.timings['total']:.1f}s "
            f"(inputs: {result.cache_mode})", err=True)
    return out


def _train_auto(args: argparse.Namespace, ws: Workspace, config: Any, dataset: Any) -> dict[str, Any]:
    """``train --strategy auto``: the auto recipe, its leaderboard on stderr, the refitted winner recorded."""
    from tlcore.auto.runner import run_auto
    from tlcore.runs.records import get_run
    from tlcore.runs.store import save_run

    result = run_auto(ws, dataset, config, build_auto_config(args), on_event=StderrProgress(args.quiet))
    run_id = save_run(ws, result.train, dataset, label=args.label or "",
                      extra={"strategy": "auto", "auto": result.record()})
    out = summarize_run(get_run(ws, run_id))
    out["auto"] = {k: result.record()[k] for k in ("winner", "best", "reason", "leaderboard", "seconds")}
    if not args.json:
        for line in leaderboard_lines(result.leaderboard):
            say(line, err=True)
        m = result.train.test_metrics
        say(run_id)
        say(f"  {result.reason}", err=True)
        say(f"  test accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f} on {m['n']} images; "
            f"{result.seconds:.0f} s in all", err=True)
    return out


def leaderboard_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The leaderboard as text: candidate, CV mean with its 95% interval, seconds, and why anything was skipped."""
    out = ["  candidate                                              CV accuracy (95% CI)        seconds"]
    for r in rows:
        mark = "*" if r.get("winner") else " "
        if r["status"] == "done":
            ci = (f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if r.get("ci_low") is not None else "")
            out.append(f" {mark}{r['label'][:52]:<54} {r['mean']:.3f} {ci:<20} {r['seconds']:>7.0f}")
        else:
            out.append(f"  {r['label'][:52]:<54} {r['status']}: {r.get('reason', '')}")
    return out


def cmd_lr_find(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """The learning-rate range test (fastai's valley rule) for the training options' strategy: prints the suggested
    head learning rate on stdout and the curve on stderr; the JSON holds the whole curve."""
    from tlcore.data import load_dataset
    from tlcore.train.lr_find import lr_find

    config = build_train_config(args)
    settings = LRFindSettings(start_lr=args.start_lr, end_lr=args.end_lr, num_it=args.num_it)
    dataset = load_dataset(ws, args.dataset)
    result = lr_find(ws, dataset, config, settings=settings, on_event=StderrProgress(args.quiet))
    if not args.json:
        if not args.quiet:
            for line in curve_lines(result.lrs, result.smoothed, result.suggested_index):
                say(line, err=True)
            say(f"  {result.strategy}: head and {result.n_trainable} block groups on inputs {result.inputs}, "
                f"{len(result.lrs)} steps ({result.stopped}), {result.seconds:.1f}s", err=True)
        say(f"{result.suggested_lr:.2g}" if result.suggested_lr is not None else "none")
    return {"dataset_id": dataset.id, **result.to_dict()}


def check_lr_find_options(args: argparse.Namespace) -> None:
    """The training options' checks, then the sweep's: ``--start-lr`` must stay below ``--end-lr``.

    Raises:
        UsageError: naming the options.
    """
    check_train_options(args)
    if args.start_lr >= args.end_lr:
        raise UsageError(f"--start-lr {args.start_lr:g} must be below --end-lr {args.end_lr:g}")


def curve_lines(lrs: Sequence[float], losses: Sequence[float], mark: int | None, rows: int = 12) -> list[str]:
    """A short text table of the smoothed loss against the rate, with a bar per row; ``<-`` marks the suggestion."""
    import math

    if not lrs:
        return []
    picks = sorted({round(i * (len(lrs) - 1) / max(rows - 1, 1)) for i in range(rows)} | (
        {mark} if mark is not None else set()))
    finite = [losses[i] for i in picks if math.isfinite(losses[i])]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    out = ["  learning rate   smoothed loss"]
    for i in picks:
        loss = losses[i]
        width = round(30 * (loss - low) / (high - low)) if math.isfinite(loss) and high > low else 0
        out.append(f"  {lrs[i]:>13.2e}   {loss:>13.4f} {'#' * width}{'  <- suggested' if i == mark else ''}")
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
    same_shape = probs.shape == run.test_probs.shape
    identical = bool(same_shape and np.array_equal(probs, run.test_probs))
    max_diff = float(np.abs(probs - run.test_probs).max()) if same_shape and probs.size else 0.0
    if not args.json:
        say(f"{args.run}: test accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
            f"on {metrics['n']} images; predictions {'identical to' if identical else 'differ from'} the "
            f"recorded ones (max difference {max_diff:.2e})")
    return {"run_id": args.run, "test_metrics": metrics, "identical_to_recorded": identical,
            "max_abs_difference": max_diff}


def cmd_predict(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Predict the top-k classes of new images with a saved run."""
    from tlcore.evaluate.predict import predict_images
    from tlcore.runs.store import load_run

    require_files(args.images)
    run = load_run(ws, args.run)
    predictions = predict_images(run, [Path(p) for p in args.images], names=list(args.images), top_k=args.top_k)
    rows = [{"image": p.name, "top": [{"class": c, "probability": pr} for c, pr in p.top]} for p in predictions]
    if not args.json:
        for p in predictions:
            tops = ", ".join(f"{c} {pr:.1%}" for c, pr in p.top)
            say(f"{p.name}: {tops}")
    return {"run_id": args.run, "predictions": rows}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``train``, ``evaluate`` and ``predict`` subcommands."""
    p = add_command(sub, common, "train", cmd_train, "train a model on a dataset and record the run",
                    workspace=CREATES)
    add_train_options(p, auto=True)
    p.add_argument("--label", help="a note to remember the run by")
    p = add_command(sub, common, "lr-find", cmd_lr_find,
                    "find a head learning rate with a short range test (fastai's lr_find valley rule)",
                    workspace=CREATES)
    add_train_options(p)
    d, lim = LRFindSettings(), LR_FIND_LIMITS
    g = p.add_argument_group("range test")
    g.add_argument("--start-lr", type=number(lim["start_lr"]), default=d.start_lr, help=f"first rate ({d.start_lr:g})")
    g.add_argument("--end-lr", type=number(lim["end_lr"]), default=d.end_lr, help=f"last rate ({d.end_lr:g})")
    g.add_argument("--num-it", type=whole(lim["num_it"]), default=d.num_it,
                   help=f"steps (batches) of the sweep ({d.num_it})")
    p.set_defaults(check=check_lr_find_options)
    p = add_command(sub, common, "evaluate", cmd_evaluate,
                    "re-run a saved run's test predictions and check them against the record")
    p.add_argument("--run", required=True, help="run id")
    p = add_command(sub, common, "predict", cmd_predict, "top-k classes for new images with a saved run")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--top-k", type=whole(Limit(1)), default=3, help="how many classes to show per image (3)")
    p.add_argument("images", nargs="+", help="image files")
