"""The auto recipe, top to bottom: :func:`run_auto`.

1. Split off the test images as any training with the same seed would (:func:`tlcore.data.make_split`); the rest
   is the selection part, dealt into stratified folds that every candidate is scored on.
2. Measure this machine's throughput, read the cache state, estimate each candidate and plan what fits the budget
   (:mod:`tlcore.auto.estimate`); say what is skipped and why.
3. Score the planned candidates in order (:mod:`tlcore.auto.scoring`), re-checking the budget before each with the
   estimates rescaled by how far off the finished ones were; the leaderboard goes out as an event after each change.
4. Choose (:mod:`tlcore.auto.choose`), refit the winner on all non-test images and test it once
   (:mod:`tlcore.auto.refit`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.auto.candidates import Candidate, candidates
from tlcore.auto.choose import METRIC, choose, leaderboard_row
from tlcore.auto.config import AutoConfig, auto_to_dict
from tlcore.auto.estimate import PlanRow, Sizes, Throughput, estimate, fit_rate, measure_backbone, plan
from tlcore.auto.features import feature_config, uncached_images
from tlcore.auto.refit import refit
from tlcore.auto.scoring import Audit, Scored, Scorer
from tlcore.errors import Cancelled, TlcoreError
from tlcore.evaluate.cv import PristineBackbones
from tlcore.evaluate.folds import make_folds
from tlcore.events import CancelToken, EventCallback, Leaderboard, Message, ignore_event
from tlcore.models.registry import PIXELS_BACKBONE
from tlcore.train.config import TrainConfig
from tlcore.train.strategies import SettingError
from tlcore.workspace import Workspace

PRIOR_SECONDS = 30.0  # the rescaling of estimates trusts finished candidates only once they add up to this much

if TYPE_CHECKING:
    from tlcore.data import Dataset
    from tlcore.train.results import TrainResult


@dataclass
class AutoResult:
    """What :func:`run_auto` found: the refitted winner and the leaderboard that chose it."""

    train: "TrainResult"
    leaderboard: list[dict[str, Any]]
    winner: str
    best: str
    reason: str
    folds: list[np.ndarray]
    selection: np.ndarray
    auto: AutoConfig
    seconds: float
    refit_epochs: int
    lr_curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: Audit = field(default_factory=Audit)

    def record(self) -> dict[str, Any]:
        """The ``auto`` block of the run record (JSON-ready)."""
        return {"settings": auto_to_dict(self.auto), "metric": METRIC, "leaderboard": self.leaderboard,
                "winner": self.winner, "best": self.best, "reason": self.reason,
                "folds": [f.tolist() for f in self.folds], "selection_images": int(len(self.selection)),
                "refit": {"images": int(len(self.selection)), "epochs": self.refit_epochs,
                          "seconds": float(self.train.timings.get("total", 0.0))},
                "lr_curves": self.lr_curves, "seconds": self.seconds}


class _Board:
    """The leaderboard while it fills: one row per candidate, sent out whole after each change."""

    def __init__(self, rows: list[PlanRow], budget: float, on_event: EventCallback, started: float) -> None:
        self.rows = {r.candidate.name: {**r.candidate.to_dict(), "status": "planned" if r.included else "skipped",
                                        "reason": r.reason, "estimated_seconds": r.seconds} for r in rows}
        self.budget, self.on_event, self.started = budget, on_event, started
        self.refits = {r.candidate.name: r.refit for r in rows if r.included}

    def update(self, name: str, /, message: str = "", scale: float = 1.0, **changes: Any) -> None:
        self.rows[name].update(changes)
        left = sum(r["estimated_seconds"] * scale for r in self.rows.values() if r["status"] in ("planned", "running"))
        done = [n for n, r in self.rows.items() if r["status"] == "done"]
        refit = max((self.refits[n] for n in done), default=0.0) if done else max(self.refits.values(), default=0.0)
        if all(r["status"] not in ("planned", "running") for r in self.rows.values()) and message.startswith("refit"):
            refit = self.refits.get(name, refit)
        self.on_event(Leaderboard(rows=self.table(), elapsed=time.perf_counter() - self.started,
                                  eta=left + refit * scale, budget=self.budget, message=message))

    def table(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows.values()]


def run_auto(ws: Workspace, dataset: "Dataset", config: TrainConfig, auto: AutoConfig = AutoConfig(),
             on_event: EventCallback = ignore_event, cancel: CancelToken | None = None) -> AutoResult:
    """Choose a recipe for ``dataset`` by cross-validation within ``auto.budget`` seconds, refit it, test it once.

    Args:
        ws: the workspace (images, caches).
        dataset: an imported dataset.
        config: the shared settings: seed, test fraction (the same test split as a training with this seed), batch
            size, weight decay, the backbone of the head, fine-tune and scratch candidates.
        auto: what to try and for how long.
        on_event: progress, messages and :class:`~tlcore.events.Leaderboard` events.
        cancel: checked between steps.

    Raises:
        DatasetError: fewer than 2 classes, or a class too small for the folds (the message names it).
        SettingError: a setting that can't work, or a budget too small for any candidate (naming the budget needed).
        Cancelled: if ``cancel`` was set.
    """
    from tlcore.data import make_split

    config.check()
    auto.check()
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    selection = np.sort(np.concatenate([split.train, split.val]))
    folds = make_folds(dataset, auto.folds, config.seed, within=selection)
    on_event(Message(f"auto recipe on {dataset.name}: {len(selection)} images scored on {len(folds)} folds, "
                     f"{len(split.test)} test images kept apart; budget {auto.budget:.0f} s"))
    backbones = PristineBackbones()
    sizes = Sizes(len(selection), len(split.test), len(dataset.classes), len(folds), config.val_fraction)
    rows = _plan(ws, dataset, config, auto, sizes, backbones, on_event, time.perf_counter() - started)
    for r in rows:
        if not r.included:
            on_event(Message(f"skipping {r.candidate.label}: {r.reason}"))
    if not any(r.included for r in rows):
        cheapest = min(rows, key=lambda r: r.seconds + r.refit)
        need = cheapest.seconds + cheapest.refit + (time.perf_counter() - started)
        raise SettingError(f"The time budget (setting 'budget', --budget) is {auto.budget:g} s, too little for any "
                           f"candidate: the cheapest, "
                           f"{cheapest.candidate.label}, needs about {math.ceil(need)} s with its refit and test "
                           f"({cheapest.reason or 'it cannot run'}); give a budget of at least {math.ceil(need * 1.2)} s.")
    board = _Board(rows, auto.budget, on_event, started)
    board.update(rows[0].candidate.name, "plan ready")
    audit = Audit()
    scorer = Scorer(ws, dataset, config, auto, selection, folds, backbones, on_event, cancel, audit)
    scored: list[Scored] = []
    estimated: dict[str, float] = {}  # per family (scikit-learn fits, trainings): seconds estimated and taken
    actual: dict[str, float] = {}
    paid: set[str] = set()  # shared passes (a backbone's features, a prefix) already run
    for r in (r for r in rows if r.included):
        name = r.candidate.name
        scale = _scale(estimated, actual, "train" if r.candidate.trained else "fit")
        reserve = max([r.refit] + [x.refit for x in rows if x.candidate.name in {s.candidate.name for s in scored}])
        elapsed = time.perf_counter() - started
        seconds = r.cost.total(paid) if r.cost is not None else r.seconds  # passes that did run are paid for
        if elapsed + (seconds + reserve) * scale > auto.budget:
            board.update(name, f"skipped {name}", scale, status="skipped",
                         reason=f"the budget ran out: about {(seconds + reserve) * scale:.0f} s needed, "
                                f"{max(0.0, auto.budget - elapsed):.0f} s left")
            continue
        board.update(name, f"scoring {r.candidate.label}", scale, status="running")
        try:
            results = scorer.score(r.candidate)
        except Cancelled:
            raise
        except (TlcoreError, MemoryError, RuntimeError) as e:
            board.update(name, f"{name} failed", scale, status="failed", reason=str(e))
            on_event(Message(f"{r.candidate.label} failed: {e}", level="warning"))
            continue
        scored.extend(results)
        if r.cost is not None:
            paid.update(what for what, _ in r.cost.shared)
        family = "train" if r.candidate.trained else "fit"
        estimated[family] = estimated.get(family, 0.0) + seconds
        actual[family] = actual.get(family, 0.0) + max(s.seconds for s in results)
        for s in results:  # a flip-trained candidate brings its test-time-flip variant along
            board.rows.setdefault(s.candidate.name, s.candidate.to_dict())
            board.refits.setdefault(s.candidate.name, r.refit)
            board.update(s.candidate.name, f"{s.candidate.label}: {s.mean():.3f}", scale,
                         **leaderboard_row(s, r.seconds))
    if not scored:
        reasons = "; ".join(f"{n}: {row['reason']}" for n, row in board.rows.items() if row["reason"])
        raise TlcoreError(f"the auto recipe could not score any candidate ({reasons})")
    choice = choose([s for s in scored if s.candidate.name == auto.only] or scored)
    for s in scored:
        board.rows[s.candidate.name]["winner"] = s is choice.winner
    board.update(choice.winner.candidate.name, f"refitting {choice.winner.candidate.label} on all "
                 f"{len(selection)} non-test images")
    on_event(Message(choice.reason))
    result = refit(ws, dataset, scorer, choice.winner, split, selection, audit, on_event, cancel)
    return AutoResult(train=result, leaderboard=board.table(), winner=choice.winner.candidate.name,
                      best=choice.best.candidate.name, reason=choice.reason, folds=list(folds), selection=selection,
                      auto=auto, seconds=time.perf_counter() - started,
                      refit_epochs=choice.winner.refit_epochs if choice.winner.candidate.trained else 0,
                      lr_curves={s.candidate.name: s.lr.to_dict() for s in scored if s.lr is not None}, audit=audit)


def _scale(estimated: dict[str, float], actual: dict[str, float], family: str) -> float:
    """How far off the finished candidates' estimates were, for ``family`` (or all so far): taken / estimated, each
    with :data:`PRIOR_SECONDS` added so that a few seconds' candidates cannot swing it; kept within [0.5, 4]."""
    est, act = (estimated[family], actual[family]) if estimated.get(family) else \
        (sum(estimated.values()), sum(actual.values()))
    return min(4.0, max(0.5, (act + PRIOR_SECONDS) / (est + PRIOR_SECONDS)))


def _plan(ws: Workspace, dataset: "Dataset", config: TrainConfig, auto: AutoConfig, sizes: Sizes,
          backbones: PristineBackbones, on_event: EventCallback, spent: float) -> list[PlanRow]:
    """Measure, estimate and plan every candidate; one that cannot even be built is skipped with the reason."""
    all_idx = np.arange(len(dataset), dtype=np.int64)
    fit_costs: dict[int, float] = {}
    measured: dict[str, tuple[Throughput, dict[str, int], int] | str] = {}
    costs, unbuildable = [], {}
    cands = candidates(config, auto)
    for c in cands:
        if c.backbone not in measured:
            measured[c.backbone] = _measure(ws, dataset, config, c.backbone, cands, backbones, all_idx)
        m = measured[c.backbone]
        if isinstance(m, str):
            unbuildable[c.name] = m
            continue
        throughput, uncached, dim = m
        if not c.trained and dim not in fit_costs:
            fit_costs[dim] = fit_rate(dim, sizes.classes)
        costs.append((c, estimate(c, sizes, auto, None if c.kind == "pixels" else throughput, uncached,
                                  fit_costs.get(dim, 0.0))))
    rows = {r.candidate.name: r for r in plan(costs, auto.budget, spent)}
    out = []
    for c in cands:
        out.append(rows.get(c.name) or PlanRow(c, math.inf, math.inf, False, unbuildable.get(c.name, "")))
    return out


def _measure(ws: Workspace, dataset: "Dataset", config: TrainConfig, name: str, cands: list[Candidate],
             backbones: PristineBackbones, indices: np.ndarray) -> tuple[Throughput, dict[str, int], int] | str:
    """Throughput, uncached images per cache boundary and feature count of backbone ``name``, or why it can't run."""
    fc = feature_config(config, name)
    try:
        backbone = backbones(fc)
    except TlcoreError as e:
        return f"its backbone cannot be built: {e}"
    size = fc.image_size or backbone.data_config.input_size
    if name == PIXELS_BACKBONE:
        return Throughput(forward_rate=math.inf), {"pixels": uncached_images(ws, dataset, backbone, fc, indices)}, \
            backbone.num_features
    groups = tuple(sorted({c.groups for c in cands if c.backbone == name and c.kind == "fine-tune"}))
    throughput = measure_backbone(backbone, size, groups, scratch=any(c.backbone == name and c.kind == "scratch"
                                                                      for c in cands))
    uncached = {"pooled": uncached_images(ws, dataset, backbone, fc, indices)}
    for g in groups:
        uncached[f"prefix-{g}"] = uncached_images(ws, dataset, backbone, fc, indices,
                                                  f"stage-{len(backbone.groups) - g}")
    return throughput, uncached, backbone.num_features
