"""What each candidate will cost, from throughput measured on this machine and the cache state, and the plan: the
candidates that fit the time budget, in order, and those skipped with the reason.

Measured once per backbone (a few batches of random input, well under a second each): the frozen forward rate
(images/s), and per fine-tuned group count the frozen-prefix rate and the seconds per image of a training step of
the trainable tail; the whole network's training step for scratch; and a few L-BFGS iterations of the
scikit-learn fit on random rows of the features' width. The cache state says which passes are already paid for: a cached image costs nothing.
Estimates are deliberately simple sums (passes + epochs x images x seconds per image); the runner rescales them
by how far off the finished candidates were.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from tlcore.auto.candidates import Candidate
from tlcore.auto.config import AutoConfig
from tlcore.auto.probe import CS, INNER_HOLDOUT

if TYPE_CHECKING:
    from tlcore.models.factory import Backbone

LR_FIND_STEPS = 100  # the range test's steps (fastai's default)
PIPELINE_SHARE = 0.85  # stored images -> features runs at about this share of the bare forward rate
PIXEL_RATE = 400.0  # images/s decoded and resized to 32 px (no network)
PROBE_ITERATIONS = 70  # L-BFGS iterations (over all rows) of one probe fit, its C path included (tol 1e-3)
OVERHEAD = 1.0  # seconds per candidate: building models, folds, bookkeeping


@dataclass
class Throughput:
    """What was measured for one backbone at its input size (seconds per image unless named a rate)."""

    forward_rate: float  # images/s through the frozen backbone
    prefix: dict[int, float] = field(default_factory=dict)  # groups -> s/image through the frozen prefix
    tail_step: dict[int, float] = field(default_factory=dict)  # groups -> s/image of a tail training step
    full_step: float = math.nan  # s/image of a whole-network training step (scratch)


def _timed(fn: Callable[[], object], repeats: int = 2) -> float:
    fn()  # warm-up (allocations, one-off kernels)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def measure_backbone(backbone: "Backbone", size: int, groups: tuple[int, ...] = (), scratch: bool = False,
                     batch: int = 8, step_batch: int = 32) -> Throughput:
    """Time the frozen forward (``batch`` images), and for each of ``groups`` the prefix and a tail training step
    (``step_batch`` images, the training batch: a step's cost per image falls with the batch), on random input."""
    import copy

    import torch

    x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    xs = torch.randn(step_batch, 3, size, size).contiguous(memory_format=torch.channels_last) if groups else x
    model = backbone.model.eval()
    with torch.inference_mode():
        seconds = _timed(lambda: model(x))
    out = Throughput(forward_rate=batch / seconds)
    stages = backbone.stages
    for g in groups:
        if stages is None or not 0 < g < len(stages):
            continue
        prefix = torch.nn.Sequential(*stages[:len(stages) - g])
        tail = copy.deepcopy(torch.nn.Sequential(*stages[len(stages) - g:])).train()
        with torch.no_grad():
            out.prefix[g] = _timed(lambda: prefix(x)) / batch
            mid = prefix(xs)
        for p in tail.parameters():
            p.requires_grad_(True)

        def step() -> None:
            tail(mid).float().sum().backward()

        out.tail_step[g] = _timed(step) / step_batch
    if scratch:
        net = copy.deepcopy(model).train()
        for p in net.parameters():
            p.requires_grad_(True)
        out.full_step = _timed(lambda: net(x).float().sum().backward(), repeats=1) / batch
    return out


def fit_rate(d: int, n_classes: int, rows: int = 1024, iterations: int = 10) -> float:
    """Seconds per (row x L-BFGS iteration) of scikit-learn's multinomial logistic regression on ``d`` standardised
    features and ``n_classes`` classes, timed on random rows (its per-iteration cost does not depend on the data)."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, d)).astype(np.float32)
    y = np.arange(rows) % max(2, n_classes)
    model = LogisticRegression(max_iter=iterations, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it stops at max_iter on purpose
        seconds = _timed(lambda: model.fit(x, y), repeats=1)
    return seconds / (rows * max(1, int(model.n_iter_[0])))


def fit_seconds(n: int, per_row_iteration: float) -> float:
    """One probe fit with its choice of C (:func:`tlcore.auto.probe.fit_probe`): the warm-started path over
    ``CS`` on the inner training rows and the final fit, about :data:`PROBE_ITERATIONS` iterations over ``n`` rows."""
    return PROBE_ITERATIONS * max(1.0, len(CS) / 4) * n * per_row_iteration


@dataclass(frozen=True)
class Sizes:
    """How many images each part of the auto recipe touches."""

    selection: int  # non-test images (the folds cover them)
    test: int
    classes: int
    folds: int
    val_fraction: float

    @property
    def fold_train(self) -> float:
        """Images a fold trains on (its inner validation carved off)."""
        return self.selection * (self.folds - 1) / self.folds * (1 - self.val_fraction)

    @property
    def fold_val(self) -> float:
        return self.selection * (self.folds - 1) / self.folds * self.val_fraction


@dataclass(frozen=True)
class Cost:
    """A candidate's estimate: its own seconds, the passes it shares with others (``(what, seconds)``), and the
    refit and test it would need if it won."""

    own: float
    shared: tuple[tuple[str, float], ...]
    refit: float

    def total(self, paid: set[str]) -> float:
        """Own seconds plus the shared passes not in ``paid``."""
        return self.own + sum(s for what, s in self.shared if what not in paid)


def estimate(candidate: Candidate, sizes: Sizes, auto: AutoConfig, throughput: Throughput | None,
             uncached: dict[str, int], fit_cost: float) -> Cost:
    """The cost of scoring ``candidate`` on the folds, its refit on all non-test images and its test.

    Args:
        throughput: the candidate's backbone as measured (None for pixels).
        uncached: per cache boundary ("pooled", "stage-<b>" or "pixels"), images not cached yet.
        fit_cost: :func:`fit_rate` for the features a probe fits on.
    """
    k, n, epochs = sizes.folds, sizes.selection, auto.max_epochs
    if candidate.kind in ("pixels", "probe"):
        fits = k * fit_seconds(int(n * (k - 1) / k), fit_cost)
        refit = fit_seconds(n, fit_cost)
        if candidate.kind == "pixels":
            return Cost(OVERHEAD + fits, (("pixels", uncached["pixels"] / PIXEL_RATE),), refit + sizes.test / PIXEL_RATE)
        assert throughput is not None
        pass_cost = uncached["pooled"] / (throughput.forward_rate * PIPELINE_SHARE)
        test = sizes.test / (throughput.forward_rate * PIPELINE_SHARE)
        return Cost(OVERHEAD + fits, ((f"{candidate.backbone}/pooled", pass_cost),), refit + test)
    assert throughput is not None
    test = sizes.test / (throughput.forward_rate * PIPELINE_SHARE)
    views = auto.aug_views if candidate.augment != "none" else 0
    mirrored = n / (throughput.forward_rate * PIPELINE_SHARE) if candidate.flips else 0.0  # test-time flips
    if candidate.kind == "head":
        pass_cost = uncached["pooled"] / (throughput.forward_rate * PIPELINE_SHARE)
        bank = views * n / (throughput.forward_rate * PIPELINE_SHARE)
        head = 2e-5 * (k * epochs * (sizes.fold_train + sizes.fold_val) + LR_FIND_STEPS * 32)
        return Cost(OVERHEAD + head + bank + mirrored, ((f"{candidate.backbone}/pooled", pass_cost),),
                    2e-5 * epochs * n + views * n / (throughput.forward_rate * PIPELINE_SHARE) + test)
    if candidate.kind == "fine-tune":
        g = candidate.groups
        step = throughput.tail_step.get(g, math.inf)
        pre = throughput.prefix.get(g, math.inf)
        boundary = f"{candidate.backbone}/prefix-{g}"
        pass_cost = uncached.get(f"prefix-{g}", n + sizes.test) * pre * 1.1
        bank = views * n * pre * 1.1
        train = step * (k * epochs * sizes.fold_train + LR_FIND_STEPS * 32)
        scoring = step / 3 * (k * epochs * sizes.fold_val + n)
        refit = step * epochs * n + views * n * pre * 1.1 + test
        return Cost(OVERHEAD + train + scoring + bank + mirrored, ((boundary, pass_cost),), refit)
    step = throughput.full_step  # scratch: every epoch runs the whole network on decoded images
    infer = 1.0 / (throughput.forward_rate * PIPELINE_SHARE)
    train = step * (k * epochs * sizes.fold_train + LR_FIND_STEPS * 32) + infer * k * epochs * sizes.fold_val
    return Cost(OVERHEAD + train + infer * n + mirrored, (), step * epochs * n + test)


@dataclass(frozen=True)
class PlanRow:
    """One candidate in the plan: included (with its estimate) or skipped (with the reason)."""

    candidate: Candidate
    seconds: float  # estimated seconds of scoring it, shared passes not yet paid included
    refit: float  # estimated seconds of its refit and test, were it to win
    included: bool
    reason: str = ""
    cost: Cost | None = None  # the estimate it came from (None: it could not be estimated)


def plan(costs: list[tuple[Candidate, Cost]], budget: float, spent: float = 0.0) -> list[PlanRow]:
    """Go through the candidates in order; keep each one whose scoring, plus the largest refit among those kept and
    itself, still fits in what is left of ``budget`` after ``spent``; say why the others were skipped."""
    rows: list[PlanRow] = []
    paid: set[str] = set()
    used, reserve = spent, 0.0
    for candidate, cost in costs:
        seconds = cost.total(paid)
        need = used + seconds + max(reserve, cost.refit)
        if need <= budget:
            rows.append(PlanRow(candidate, seconds, cost.refit, True, cost=cost))
            used += seconds
            reserve = max(reserve, cost.refit)
            paid.update(what for what, _ in cost.shared)
        else:
            left = max(0.0, budget - used - reserve)
            rows.append(PlanRow(candidate, seconds, cost.refit, False,
                                f"needs about {_duration(seconds + max(0.0, cost.refit - reserve))}; "
                                f"{_duration(left)} of the budget left", cost))
    return rows


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "an unknown time (it cannot be measured on this backbone)"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
