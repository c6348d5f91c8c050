"""The benchmark's measurements. Each function times one thing on this machine and returns plain numbers.

Every training case starts from an empty feature cache, so the one backbone pass that fills it is part of the
time. "One backbone pass" is the time to run the backbone over the same distinct images from the workspace
(decode, preprocess, forward), exactly what filling a feature cache costs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from tlcore.data import Dataset, import_demo
from tlcore.data.augment import NO_AUGMENT, eval_transform
from tlcore.data.dataset import new_dataset
from tlcore.data.loader import FEATURE_BATCH, batched_images
from tlcore.models.factory import Backbone
from tlcore.models.inference import predict_stored, probs_from_batches, run_frozen
from tlcore.models.transfer import TransferModel
from tlcore.runtime.allocator import allocator_env
from tlcore.train.caches import cache_entries, clear_cache
from tlcore.train.config import TrainConfig
from tlcore.train.loop import train
from tlcore.train.strategies import StrategyConfig
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

BACKBONE = "efficientnet_lite0"
BATCH = 32  # the training cases' batch size
PROBE = Path(__file__).resolve().parent / "probe.py"
APP_START = Path(__file__).resolve().parent / "app_start.py"
CV_MEMORY = Path(__file__).resolve().parent / "cv_memory.py"


@dataclass(frozen=True)
class Setup:
    """What every case shares: a workspace with the demo images, the subset measured, the backbone's name."""

    ws: Workspace
    dataset: Dataset
    backbone: str = BACKBONE


def demo_subset(ws: Workspace, n: int, seed: int = 0) -> Dataset:
    """The digits demo imported into ``ws``, cut to ``n`` images with every class in proportion."""
    full, _ = import_demo(ws)
    if n >= len(full):
        return full
    rng = np.random.default_rng(seed)
    labels = full.labels
    picks: list[int] = []
    for c in range(len(full.classes)):
        members = np.flatnonzero(labels == c)
        picks.extend(rng.choice(members, size=max(3, round(n * len(members) / len(full))), replace=False).tolist())
    records = tuple(full.records[i] for i in sorted(picks))
    return new_dataset(f"{full.name}, {len(records)} images", full.classes, records)


def distinct_hashes(dataset: Dataset) -> list[str]:
    return list(dict.fromkeys(dataset.hashes))


def ready_batches(setup: Setup, backbone: Backbone, n_images: int) -> list[torch.Tensor]:
    """Preprocessed channels-last batches of real images, for timing the network alone."""
    tf = eval_transform(backbone.data_config)
    hashes = distinct_hashes(setup.dataset)[:n_images]
    batches = batched_images(setup.ws, hashes, tf, FEATURE_BATCH)  # the batch size the pipeline uses
    return [b.contiguous(memory_format=torch.channels_last) for b in batches]


def _run_images(model: torch.nn.Module, batches: list[torch.Tensor], min_images: int) -> int:
    """Run ``model`` over ``batches``, round and round, until at least ``min_images`` went through; return how many."""
    done = 0
    while done < min_images:
        for x in batches:
            model(x)
            done += len(x)
            if done >= min_images:
                break
    return done


def _timed_images(model: torch.nn.Module, batches: list[torch.Tensor], min_images: int,
                  grad: bool = False) -> tuple[int, float]:
    """One warm-up batch, then :func:`_run_images`; returns the images it ran and the seconds they took."""
    context = torch.enable_grad if grad else torch.inference_mode
    with context():
        model(batches[0])
        start = time.perf_counter()
        done = _run_images(model, batches, min_images)
        return done, time.perf_counter() - start


def fast_defaults(backbone: Backbone, batches: list[torch.Tensor], min_images: int, rounds: int
                  ) -> dict[str, float]:
    """Images/s with each fast default switched off in turn, next to all of them on.

    The variants take turns for ``rounds`` rounds, and each rate is total images ÷ total time, as for the target
    ratios (see :func:`pipeline_vs_bare` for why).
    """
    model = backbone.model.eval().to(memory_format=torch.channels_last)
    model_nchw = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    contiguous = [b.contiguous() for b in batches]

    def without_inference_mode() -> tuple[int, float]:
        for p in model.parameters():  # a trainable model run without inference mode records the autograd graph
            p.requires_grad_(True)
        try:
            return _timed_images(model, batches, min_images, grad=True)
        finally:
            for p in model.parameters():
                p.requires_grad_(False)

    def one_thread() -> tuple[int, float]:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _timed_images(model, batches, min_images)
        finally:
            torch.set_num_threads(threads)

    variants = {"all_on": lambda: _timed_images(model, batches, min_images),
                "no_channels_last": lambda: _timed_images(model_nchw, contiguous, min_images),
                "no_inference_mode": without_inference_mode}
    if torch.get_num_threads() > 1:
        variants["one_thread"] = one_thread
    images = dict.fromkeys(variants, 0)
    seconds = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for name, run in variants.items():
            n, s = run()
            images[name] += n
            seconds[name] += s
    return {name: images[name] / seconds[name] for name in variants}


def pipeline_vs_bare(setup: Setup, backbone: Backbone, batches: list[torch.Tensor], passes: int,
                     round_images: int = 8 * FEATURE_BATCH) -> dict[str, float]:
    """Images/s from stored images to class probabilities, next to the bare backbone on ready tensors.

    Three things run in alternating rounds of about ``round_images`` images, so that each sees the same machine
    (a shared VM's speed drifts by a quarter over tens of seconds, which decided the ratio when each was a separate
    best-of run): the pipeline as :func:`tlcore.models.inference.predict_stored` runs it for the app (decoding and
    preprocessing in the loader thread), the same with decoding in the caller's thread, and the bare backbone on
    ``batches`` (ready channels-last tensors). The pipeline's rounds walk through the dataset's distinct images
    ``passes`` times. Returns images/s under ``pipeline``, ``no_prefetch`` and ``bare``: total images ÷ total time.
    """
    model = TransferModel(backbone, len(setup.dataset.classes)).to(memory_format=torch.channels_last).eval()
    bare_model = backbone.model
    tf = eval_transform(backbone.data_config)
    hashes = distinct_hashes(setup.dataset)
    predict_stored(model, setup.ws, hashes[:FEATURE_BATCH], tf)  # warm-up
    seconds = {"pipeline": 0.0, "no_prefetch": 0.0, "bare": 0.0}
    images = dict.fromkeys(seconds, 0)

    def timed(name: str, run: Any) -> None:
        """Time ``run``, which returns how many images it ran."""
        start = time.perf_counter()
        n = run()
        seconds[name] += time.perf_counter() - start
        images[name] += n

    def bare(n: int) -> int:
        with torch.inference_mode():
            return _run_images(bare_model, batches, n)  # whole batches: may run a few more than n

    for _ in range(passes):
        for i in range(0, len(hashes), round_images):
            chunk = hashes[i:i + round_images]
            timed("pipeline", lambda: len(predict_stored(model, setup.ws, chunk, tf)))
            timed("bare", lambda: bare(len(chunk)))
            timed("no_prefetch", lambda: len(probs_from_batches(
                model, batched_images(setup.ws, chunk, tf, FEATURE_BATCH, prefetch=0), len(chunk))))
    return {name: images[name] / seconds[name] for name in seconds}


def one_pass(setup: Setup, backbone: Backbone) -> float:
    """Seconds for one backbone pass over the dataset's distinct images, from the workspace."""
    tf = eval_transform(backbone.data_config)
    hashes = distinct_hashes(setup.dataset)
    run_frozen(backbone.model, setup.ws, hashes[:FEATURE_BATCH], tf, "warm-up")
    start = time.perf_counter()
    run_frozen(backbone.model, setup.ws, hashes, tf, "pass")
    return time.perf_counter() - start


def _config(strategy: StrategyConfig, epochs: int, **kw: Any) -> TrainConfig:
    return TrainConfig(backbone=BACKBONE, strategy=strategy, epochs=epochs, patience=0, augment=NO_AUGMENT,
                       batch_size=BATCH, **kw)


def feature_training(setup: Setup, epochs: int) -> dict[str, Any]:
    """Feature extraction (frozen backbone, linear head) for ``epochs`` epochs, from an empty cache."""
    clear_cache(setup.ws)
    start = time.perf_counter()
    result = train(setup.ws, setup.dataset, _config(StrategyConfig(name="feature-extraction"), epochs))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cache_mode": result.cache_mode, "cache_bytes": result.cache_bytes,
            "timings": result.timings, "val_accuracy": result.val_metrics["accuracy"],
            "test_accuracy": result.test_metrics["accuracy"]}


def bytes_per_cached_image(ws: Workspace, pooled: bool) -> float | None:
    """Disk bytes per row of the largest cache entry of one kind (pooled features, or a stage's input)."""
    sizes = [e.nbytes / e.rows for e in cache_entries(ws)
             if e.rows and (e.key.get("boundary") == "pooled") == pooled]
    return max(sizes) if sizes else None


def fine_tune(setup: Setup, epochs: int, groups: int, cache: bool, warm: bool = False,
              head_lr: float = 1e-3) -> dict[str, Any]:
    """The last ``groups`` block groups and the head train for ``epochs`` epochs, with or without the prefix cache,
    from an empty cache unless ``warm`` (then a previous fine-tune's prefix rows are reused)."""
    if not warm:
        clear_cache(setup.ws)
    strategy = StrategyConfig(name="fine-tune", fine_tune_groups=groups, head_lr=head_lr)
    start = time.perf_counter()
    result = train(setup.ws, setup.dataset, _config(strategy, epochs, cache=cache))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cache_mode": result.cache_mode, "cache_bytes": result.cache_bytes,
            "timings": result.timings, "test_accuracy": result.test_metrics["accuracy"],
            "epoch_seconds": [h["seconds"] for h in result.history],
            "bytes_per_image": bytes_per_cached_image(setup.ws, pooled=False)}


def cv_config(epochs: int) -> TrainConfig:
    """The cross-validation case's settings: a linear head on the frozen backbone, no augmentation."""
    return _config(StrategyConfig(name="feature-extraction", head="linear"), epochs)


def cross_validation(setup: Setup, k: int, epochs: int) -> dict[str, Any]:
    """k-fold CV of a linear head on the frozen backbone (:func:`tlcore.evaluate.cv.cross_validate`, as the app runs
    it), from an empty cache."""
    from tlcore.evaluate.cv import cross_validate

    clear_cache(setup.ws)
    start = time.perf_counter()
    result = cross_validate(setup.ws, setup.dataset, cv_config(epochs), k=k)
    seconds = time.perf_counter() - start
    folds = result.result.folds
    return {"seconds": seconds, "fold_accuracy": [f.metrics["accuracy"] for f in folds],
            "cache_modes": sorted({f.cache_mode for f in folds}),
            "bytes_per_image": bytes_per_cached_image(setup.ws, pooled=True),
            "fold_seconds": [f.seconds for f in folds]}


def cv_memory(setup: Setup, k: int, epochs: int) -> dict[str, Any]:
    """Peak RSS of the CV case in a fresh process (``cv_memory.py``), like a job worker's."""
    cmd = [sys.executable, str(CV_MEMORY), "--workspace", str(setup.ws.root), "--images", str(len(setup.dataset)),
           "--folds", str(k), "--epochs", str(epochs)]
    return _json_from(subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False))


def _json_from(done: subprocess.CompletedProcess) -> dict[str, Any]:
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def attribution(backbone: Backbone, batch: torch.Tensor, n_images: int) -> dict[str, float] | str:
    """Seconds per 224 px image for each attribution method, or why none could be timed."""
    try:
        from tlcore.explain import METHODS, ExplainConfig, explain
    except ImportError as exc:
        return f"tlcore.explain not available ({exc})"
    model = TransferModel(backbone, 10).eval()
    x = batch[:n_images].contiguous()
    with torch.inference_mode():
        targets = model(x).argmax(1).tolist()
    out = {}
    for name in METHODS:
        explain(model, x[:1], targets[:1], ExplainConfig(name))  # warm-up (hooks, layer search, first allocations)
        start = time.perf_counter()
        explain(model, x, targets, ExplainConfig(name))
        out[name] = (time.perf_counter() - start) / len(x)
    return out


@contextmanager
def busy_core(limit_seconds: float = 900.0) -> Iterator[None]:
    """Another process keeps one core busy (a spin loop that ends by itself after ``limit_seconds`` at the latest)
    while the block runs: the browser, the app or a second job on a user's machine."""
    spin = f"import time\nend = time.monotonic() + {limit_seconds}\nwhile time.monotonic() < end:\n    pass\n"
    hog = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def allocator_probe(mode: str, batch: int, images: int, spinning: bool = False, busy: bool = False
                    ) -> dict[str, Any]:
    """Run ``probe.py`` in a fresh process with the malloc environment ``mode`` needs; return its JSON.

    OpenMP threads wait passively (as this process's ``tlcore.runtime.setup()`` set up) unless ``spinning``, which gives the
    OpenMP runtime's default instead. With ``busy``, another process keeps one core busy meanwhile.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TLCORE_MALLOC_TUNING"}
    if mode == "off":
        env["TLCORE_MALLOC_TUNING"] = "0"
    elif mode == "env":
        env.update(allocator_env())
    if spinning:
        env.pop("OMP_WAIT_POLICY", None)
        env["TLCORE_OMP_PASSIVE"] = "0"
    else:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = [sys.executable, str(PROBE), "--mode", mode, "--batch", str(batch), "--images", str(images),
           "--threads", str(torch.get_num_threads())]
    with busy_core() if busy else nullcontext():
        result = _json_from(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False))
    return {"mode": mode, "batch": batch} | result


def app_cold_start(workspace: Path) -> dict[str, Any]:
    """Seconds from a fresh interpreter to the app's first rendered page (``app_start.py``), on ``workspace``."""
    env = os.environ | {"TLCORE_WORKSPACE": str(workspace)}
    return _json_from(subprocess.run([sys.executable, str(APP_START)], env=env, capture_output=True, text=True,
                                     timeout=600, check=False))


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: ``n/a`` for None, floats with thousands separators and ``digits`` decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def run_benchmark(measure: Any, plan: Any, workspace: Path | None, prefix: str, json_out: bool,
                  render: Any, clean: Any = None) -> int:
    """What every benchmark's ``main`` does once its plan is set: log the runtime, run ``measure(plan, ws)`` in
    ``workspace`` (kept) or a temporary one (removed, also when killed), add the wall time, print the table or JSON."""
    import signal
    import tempfile

    from tlcore.runtime.threads import prepare_process

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so a killed run still removes its workspace
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("tlcore").setLevel(logging.WARNING)
    info = prepare_process()
    logging.getLogger("benchmark").info("runtime: %s", info.describe())
    started = time.perf_counter()
    if workspace:
        results = measure(plan, workspace)
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            results = measure(plan, Path(tmp) / "ws")
    results["benchmark_seconds"] = time.perf_counter() - started
    if clean is not None:
        results = clean(results)
    print(json.dumps(results, indent=2) if json_out else render(results))
    return 0
