"""The learning-rate range test (fastai's ``lr_find``): a short mock training whose rate grows exponentially, and
the "valley" rule that reads a good rate off the loss curve.

Following fastai (``fastai/callback/schedule.py``: ``LRFinder``, ``valley``, ``Learner.lr_find``;
``fastai/learner.py``: ``AvgSmoothLoss``):

- step ``i`` of ``num_it`` trains one batch at ``start_lr * (end_lr / start_lr) ** (i / num_it)`` (epochs of the
  training part repeat until ``num_it`` steps are done; validation never runs);
- the loss is smoothed by an exponential moving average with ``beta = 0.98``, debiased by ``1 - beta ** count``;
- the sweep stops early when the smoothed loss exceeds 4x its minimum so far, or (our addition) is NaN or infinite;
- the suggestion looks at the smoothed losses without the first ``num_it // 10`` and the last 5 points (and
  without anything from the first non-finite one): :func:`valley` finds the longest strictly decreasing
  subsequence and takes the point a third plus a sixth of its length past its start — the middle of its middle third.

The swept rate is the head's; trainable block groups keep their ratio to it (``backbone_lr_ratio`` and ``lr_decay``
as :func:`tlcore.train.strategies.param_groups` sets them). :func:`lr_find` runs on the inputs the training loop
would use (:mod:`tlcore.train.inputs`: cached pooled features or the cached frozen prefix), and :func:`range_test`
puts the model, the optimizer and torch's random state back as they were.

Torch-free at import: the settings and the result load without torch, for the CLI's parser and job parameters.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from tlcore.events import CancelToken, EventCallback, Message, ProgressTimer, ignore_event
from tlcore.train.config import TrainConfig, config_to_dict
from tlcore.train.strategies import Limit, SettingError, check_limits
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    import torch

    from tlcore.data import Dataset, Split
    from tlcore.models.factory import Backbone

BETA = 0.98  # fastai's AvgSmoothLoss
DIVERGED = 4.0  # stop once the smoothed loss exceeds this many times its minimum (fastai's LRFinder)
SKIP_END = 5  # points left out at the end before the suggestion (fastai's lr_find)

# The numeric settings of LRFindSettings and their ranges (the CLI's --start-lr, --end-lr, --num-it read these).
LR_FIND_LIMITS: dict[str, Limit] = {
    "start_lr": Limit(0, 10, low_open=True),
    "end_lr": Limit(0, 1000, low_open=True),
    "num_it": Limit(6, 1000, integer=True),
}


@dataclass(frozen=True)
class LRFindSettings:
    """How the range test sweeps (fastai's ``lr_find`` defaults)."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_it: int = 100  # optimizer steps (batches) in the sweep
    stop_div: bool = True  # stop when the smoothed loss diverges (exceeds 4x its minimum)

    def __post_init__(self) -> None:
        """Raise :class:`~tlcore.train.strategies.SettingError` naming the first setting that can't work."""
        check_limits(self, LR_FIND_LIMITS)
        if self.start_lr >= self.end_lr:
            raise SettingError(f"Settings 'start_lr' and 'end_lr' are {self.start_lr:g} and {self.end_lr:g}; the "
                               "sweep needs start_lr below end_lr.")

    def lr_at(self, step: int) -> float:
        """The rate of step ``step`` (0-based): exponential from ``start_lr`` towards ``end_lr``."""
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / self.num_it)


@dataclass(frozen=True)
class Sweep:
    """What a range test measured: one point per step, and why it stopped (``done`` | ``diverged`` | ``non-finite``)."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]  # the batch losses as measured
    smoothed: tuple[float, ...]  # debiased exponential moving average of ``losses``
    stopped: str


@dataclass(frozen=True)
class LRFindResult:
    """A range test's curve, its suggested head learning rate and what it was run with."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    suggested_lr: float | None  # None when too few points were left to suggest one
    suggested_index: int | None  # the suggestion's position in ``lrs``
    stopped: str  # done | diverged | non-finite
    strategy: str
    n_trainable: int  # block groups trained in the sweep (the head always trains)
    inputs: str  # what the trainable part trained on: features | prefix | aug-bank | none
    settings: LRFindSettings = field(default_factory=LRFindSettings)
    config: dict[str, Any] = field(default_factory=dict)  # the TrainConfig as a dict ({} when not from lr_find)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite losses become None)."""
        out = asdict(self)
        for key in ("lrs", "losses", "smoothed"):
            out[key] = [v if math.isfinite(v) else None for v in out[key]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LRFindResult:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        for key in ("lrs", "losses", "smoothed"):
            values[key] = tuple(math.nan if v is None else float(v) for v in data[key])
        values["settings"] = LRFindSettings(**data.get("settings", {}))
        return cls(**values)


def smooth(losses: Sequence[float], beta: float = BETA) -> list[float]:
    """fastai's ``AvgSmoothLoss``: ``avg = beta * avg + (1 - beta) * loss``, reported as ``avg / (1 - beta**n)``."""
    avg, out = 0.0, []
    for n, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** n))
    return out


def valley(losses: Sequence[float]) -> int:
    """fastai's ``valley`` rule: the index of the suggested point in ``losses`` (at least one, all finite).

    The valley is the longest strictly decreasing subsequence (the first such, found by the quadratic dynamic
    programme fastai uses); as in fastai its start is counted one before its first point, and the suggestion lies a
    third plus a sixth of its length past that start. An index of -1 (a two-point valley at the very start) points,
    as Python's indexing does in fastai, at the last point.
    """
    n = len(losses)
    if n == 0:
        raise ValueError("valley() needs at least one loss")
    run = [1] * n  # run[i]: the longest strictly decreasing subsequence ending at i
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
            if run[end] < run[i]:
                end = i
                start = end - run[end]
    third = (end - start) / 3
    return (start + int(third) + int(third / 2)) % n


def suggest(lrs: Sequence[float], smoothed: Sequence[float], num_it: int) -> int | None:
    """The index (into ``lrs``) of the valley suggestion, as fastai's ``lr_find`` picks it: the smoothed curve
    without its first ``num_it // 10`` and last :data:`SKIP_END` points and cut at the first non-finite value;
    None when nothing is left."""
    first = num_it // 10
    window = list(smoothed[first:max(first, len(smoothed) - SKIP_END)])
    bad = next((i for i, v in enumerate(window) if not math.isfinite(v)), None)
    if bad is not None:
        window = window[:bad]
    if not window or len(lrs) != len(smoothed):
        return None
    return first + valley(window)


def sweep(step: Callable[[float], float], settings: LRFindSettings, on_event: EventCallback = ignore_event,
          cancel: CancelToken | None = None) -> Sweep:
    """Call ``step(lr)`` (one optimizer step at that rate, returning the batch loss) for the sweep's rates, and
    smooth and watch the losses as fastai's ``LRFinder`` does; the point that diverges is kept."""
    cancel = cancel or CancelToken()
    timer = ProgressTimer("lr-find", settings.num_it, on_event)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, stopped = 0.0, math.inf, "done"
    for i in range(settings.num_it):
        cancel.raise_if_cancelled()
        lr = settings.lr_at(i)
        loss = float(step(lr))
        avg = BETA * avg + (1 - BETA) * loss
        value = avg / (1 - BETA ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(value)
        timer.update(i + 1)
        if not math.isfinite(value):
            stopped = "non-finite"
            break
        best = min(best, value)
        if settings.stop_div and value > DIVERGED * best:
            stopped = "diverged"
            break
    timer.update(len(lrs), force=True)
    return Sweep(tuple(lrs), tuple(losses), tuple(smoothed), stopped)


def range_test(model: "torch.nn.Module", optimizer: "torch.optim.Optimizer",
               batches: Callable[[int], Iterator[tuple["torch.Tensor", "torch.Tensor"]]],
               forward: Callable[["torch.Tensor"], "torch.Tensor"], loss_fn: Callable[..., "torch.Tensor"],
               settings: LRFindSettings = LRFindSettings(), on_event: EventCallback = ignore_event,
               cancel: CancelToken | None = None) -> Sweep:
    """Sweep the learning rate over ``optimizer``'s groups and put everything back afterwards.

    Args:
        model: every module whose state the sweep may change (weights, batch-norm statistics, train/eval modes).
        optimizer: the optimizer to step; its last group's rate is swept, the others keep their ratio to it.
        batches: ``batches(epoch)`` gives that epoch's shuffled training batches (called again as needed).
        forward: inputs -> logits (the trainable part: a head on cached features, or tail and head).
        loss_fn: ``loss_fn(logits, labels)``.
        settings: the sweep's rates and steps.
        on_event: receives the progress events.
        cancel: checked before every step.

    Raises:
        SettingError: when the training part gives no batch at all.
        Cancelled: if ``cancel`` was set (the state is restored then too).
    """
    import torch

    base = optimizer.param_groups[-1]["lr"]
    scales = [g["lr"] / base if base else 1.0 for g in optimizer.param_groups]
    saved_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_modes = [(m, m.training) for m in model.modules()]
    saved_rng = torch.get_rng_state()
    stream = _endless(batches)

    def step(lr: float) -> float:
        x, y = next(stream)
        for group, scale in zip(optimizer.param_groups, scales):
            group["lr"] = lr * scale
        loss = loss_fn(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    try:
        return sweep(step, settings, on_event, cancel)
    finally:
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for m, training in saved_modes:
            m.training = training
        torch.set_rng_state(saved_rng)


def _endless(batches: Callable[[int], Iterator[Any]]) -> Iterator[Any]:
    """The batches of epoch 0, 1, 2, ... one after another (as fastai fits ``num_it // len(train) + 1`` epochs)."""
    for epoch in itertools.count():
        empty = True
        for batch in batches(epoch):
            empty = False
            yield batch
        if empty:
            raise SettingError("The learning-rate range test found no training batch: the training part of the "
                               "split is empty or holds a single image (setting 'val_fraction' / 'test_fraction').")


def lr_find(ws: Workspace, dataset: "Dataset", config: TrainConfig, split: "Split | None" = None,
            settings: LRFindSettings = LRFindSettings(), on_event: EventCallback = ignore_event,
            cancel: CancelToken | None = None, backbone: "Backbone | None" = None) -> LRFindResult:
    """Run the range test for ``config``'s strategy on the training part of ``dataset``'s split.

    The model is built as :func:`tlcore.train.loop.train` builds it (same seed, head and first-epoch trainable
    groups) and trains on the same inputs, so the frozen part's cache this fills is the one training then reads.

    Args:
        ws: workspace holding the images and the caches.
        dataset: an imported dataset.
        config: the training settings; the swept rate stands for ``config.strategy.head_lr``.
        split: the train/val/test split; made from the config's fractions and seed if None.
        settings: the sweep's rates and steps.
        on_event: receives progress events.
        cancel: checked between steps.
        backbone: a backbone to use instead of creating one; its weights are the same afterwards.

    Raises:
        WeightsUnavailable: if the strategy needs pretrained weights that can't be had.
        SettingError: a setting that can't work.
        Cancelled: if ``cancel`` was set.
    """
    import torch

    from tlcore.runtime.threads import torch_threads
    from tlcore.train.epoch import class_weights
    from tlcore.train.inputs import InputPipeline
    from tlcore.train.setup import new_model
    from tlcore.train.strategies import param_groups, trainable_group_count

    config.check()
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    made = new_model(dataset, config, split, backbone)
    split, backbone, model = made.split, made.backbone, made.model
    strategy, n_classes = config.strategy, len(dataset.classes)
    trainable = [p.requires_grad for p in backbone.model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    n_trainable = trainable_group_count(strategy, len(backbone.groups), 0)
    model.set_trainable(n_trainable)
    pipeline = InputPipeline(ws, dataset, split, model, backbone, config, on_event, cancel)
    inputs = pipeline.inputs(n_trainable)
    optimizer = torch.optim.AdamW(param_groups(model, strategy, n_trainable), weight_decay=config.weight_decay)
    weight = torch.from_numpy(class_weights(dataset.labels[split.train], n_classes)) if config.class_weighted else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
    running = model.head if inputs.mode == "features" else model
    running.train()
    try:
        with torch_threads(1 if inputs.mode == "features" else None):
            curve = range_test(model, optimizer, inputs.train_batches, inputs.forward, loss_fn, settings, on_event,
                               cancel)
    finally:
        for p, flag in zip(backbone.model.parameters(), trainable):
            p.requires_grad_(flag)
        for m, training in modes:
            m.training = training
    index = suggest(curve.lrs, curve.smoothed, settings.num_it)
    lr = curve.lrs[index] if index is not None else None
    if lr is not None:
        on_event(Message(f"suggested head learning rate {lr:.2g} (fastai's valley rule, {len(curve.lrs)} steps)"))
    else:
        on_event(Message(f"no learning rate suggested: the sweep stopped ({curve.stopped}) after {len(curve.lrs)} of "
                         f"{settings.num_it} steps; try a lower start_lr or more steps", level="warning"))
    return LRFindResult(lrs=curve.lrs, losses=curve.losses, smoothed=curve.smoothed, suggested_lr=lr,
                        suggested_index=index, stopped=curve.stopped, strategy=strategy.name, n_trainable=n_trainable,
                        inputs=inputs.mode, settings=settings, config=config_to_dict(config),
                        seconds=time.perf_counter() - started)
