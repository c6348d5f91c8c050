"""The training loop: one function, ``train``, that reads top to bottom.

For each epoch the strategy says how many of the backbone's last block groups train. Everything before the first
trainable group is frozen, so its output never changes: it is computed once per image (``tlcore.features``) and
the epoch runs only the trainable tail and the head. With augmentation on, a fixed bank of augmented views per
image is computed once instead. Only when nothing is frozen (full fine-tuning, from scratch), or the backbone
can't be split into stages, does every step run the whole network on freshly loaded images.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from tlcore.data.augment import NO_AUGMENT, AugmentConfig, eval_transform, train_transform
from tlcore.data.loader import batched_images
from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EpochEnd, EventCallback, Message, ProgressTimer, ignore_event
from tlcore.metrics import classification_metrics
from tlcore.models.backbones import DEFAULT_BACKBONE, Backbone, create_backbone
from tlcore.models.inference import iter_frozen, predict_stored
from tlcore.runtime.threads import torch_threads
from tlcore.train.caches import DEFAULT_MEMORY_LIMIT, CacheKey, cached_rows
from tlcore.train.schedules import SCHEDULES, lr_factor
from tlcore.train.strategies import StrategyConfig, param_groups, trainable_group_count, uses_pretrained
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    import torch

    from tlcore.data import Dataset, Split
    from tlcore.models.transfer import TransferModel

log = logging.getLogger(__name__)

MONITORS = ("val_loss", "val_accuracy", "val_balanced_accuracy")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on besides the data."""

    backbone: str = DEFAULT_BACKBONE
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    epochs: int = 10
    batch_size: int = 32
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    class_weighted: bool = False  # weight the loss by inverse class frequency (for imbalanced data)
    schedule: str = "cosine"  # cosine | onecycle | constant
    patience: int = 3  # early stopping: epochs without improvement before stopping; 0 = off
    monitor: str = "val_loss"  # val_loss | val_accuracy | val_balanced_accuracy
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    aug_views: int = 4  # augmented views per image in the bank when the frozen part is cached
    cache: bool = True  # reuse the frozen part's outputs (off only to measure what caching saves)
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # cached activations above this many bytes are memory-mapped
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    weights_file: str | None = None  # local pretrained weights instead of the backbone's default source
    image_size: int | None = None  # None = the backbone's own input size

    def check(self) -> None:
        """Raise :class:`TlcoreError` naming the first setting that can't work."""
        if self.epochs < 1:
            raise TlcoreError(f"epochs must be at least 1 (got {self.epochs})")
        if self.batch_size < 2:
            raise TlcoreError(f"batch size must be at least 2 (got {self.batch_size})")
        if self.schedule not in SCHEDULES:
            raise TlcoreError(f"schedule must be one of {', '.join(SCHEDULES)} (got {self.schedule!r})")
        if self.monitor not in MONITORS:
            raise TlcoreError(f"monitor must be one of {', '.join(MONITORS)} (got {self.monitor!r})")
        if self.aug_views < 1:
            raise TlcoreError(f"augmentation views must be at least 1 (got {self.aug_views})")
        if self.strategy.head_lr <= 0:
            raise TlcoreError(f"head learning rate must be positive (got {self.strategy.head_lr})")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return asdict(config)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Inverse of :func:`config_to_dict`; unknown keys are refused by name."""
    return _from_dict(TrainConfig, data)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise TlcoreError(f"unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}")
    nested = {"strategy": StrategyConfig, "augment": AugmentConfig}
    values = {k: _from_dict(nested[k], v) if k in nested and isinstance(v, dict) else v for k, v in data.items()}
    return cls(**values)


@dataclass
class TrainResult:
    """A trained model and everything measured on the way."""

    model: "TransferModel"
    backbone: Backbone
    config: TrainConfig
    dataset_id: str
    classes: tuple[str, ...]
    split: "Split"
    history: list[dict[str, Any]]
    val_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    test_probs: np.ndarray
    timings: dict[str, float]
    cache_mode: str  # features | prefix | aug-bank | none (what the frozen part's outputs came from)
    best_epoch: int
    stopped_early: bool
    trainable_params: int
    cache_bytes: int = 0


# ---------------------------------------------------------------------------------------------------------------
# The data an epoch trains on


@dataclass
class _PhaseData:
    """Inputs for one stretch of epochs during which the same groups are frozen."""

    mode: str  # features | prefix | aug-bank | none
    forward: Callable[["torch.Tensor"], "torch.Tensor"]  # trainable part: inputs -> logits
    train_batches: Callable[[int], Iterator[tuple["torch.Tensor", "torch.Tensor"]]]  # epoch -> batches
    val_batches: Callable[[], Iterator[tuple["torch.Tensor", "torch.Tensor"]]]
    cache_bytes: int = 0
    cached_inputs: Callable[[np.ndarray], Iterator["torch.Tensor"]] | None = None  # frozen outputs for any images


def _stable_seed(*parts: Any) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _weights_identity(backbone: Backbone, weights_file: str | None) -> str:
    """What identifies the frozen weights in a cache key: their source, plus a content hash where the source
    alone doesn't pin them down (a user's file, or a random initialisation)."""
    digest = hashlib.sha256()
    if weights_file:
        with open(weights_file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    elif not backbone.pretrained:
        for name, tensor in backbone.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    else:
        return backbone.weights_source
    return f"{backbone.weights_source}|sha256:{digest.hexdigest()}"


class _Trainer:
    """Holds what one call of :func:`train` shares between its phases. Private: use :func:`train`."""

    def __init__(self, ws: Workspace, dataset: "Dataset", split: "Split", model: "TransferModel",
                 backbone: Backbone, config: TrainConfig, on_event: EventCallback, cancel: CancelToken) -> None:
        import torch

        self.ws, self.dataset, self.split, self.model, self.backbone = ws, dataset, split, model, backbone
        self.config, self.on_event, self.cancel = config, on_event, cancel
        self.hashes = dataset.hashes
        self.labels = torch.as_tensor(dataset.labels, dtype=torch.long)
        self.size = config.image_size or backbone.data_config.input_size
        self.eval_tf = eval_transform(backbone.data_config, self.size)
        self.train_tf = train_transform(backbone.data_config, config.augment, self.size)
        self.weights_id = _weights_identity(backbone, config.weights_file)
        self.feature_seconds = 0.0

    # -- cached inputs --------------------------------------------------------------------------------------

    def _key(self, boundary: str, view: str = "eval") -> CacheKey:
        dc = self.backbone.data_config
        pre = f"mean={dc.mean} std={dc.std} interp={dc.interpolation} crop={dc.crop_pct}"
        return CacheKey(self.backbone.name, self.weights_id, self.size, pre, boundary, view)

    def _frozen_rows(self, frozen: "torch.nn.Module", boundary: str, indices: np.ndarray, view: str = "eval",
                     augment: AugmentConfig = NO_AUGMENT) -> tuple[np.ndarray, np.ndarray, int]:
        """Cached outputs of the frozen part for ``indices`` (rows + positions), computing missing ones once."""
        hashes = [self.hashes[i] for i in indices]
        transform = self.eval_tf if view == "eval" else self.train_tf

        def compute(missing: list[str]) -> Iterator[np.ndarray]:  # streamed, so a large fill goes straight to disk
            seeds = None if view == "eval" else [_stable_seed(self.config.seed, view, h) for h in missing]
            phase = "features" if view == "eval" else f"augmented features ({view.split('/')[0]})"
            return iter_frozen(frozen, self.ws, missing, transform, phase, self.on_event, self.cancel, seeds=seeds)

        start = time.perf_counter()
        rows, positions, stats = cached_rows(self.ws, self._key(boundary, view), hashes, compute,
                                             self.config.memory_limit)
        if stats.computed:
            self.feature_seconds += time.perf_counter() - start
        return rows, positions, stats.nbytes

    def cached_phase(self, frozen_stages: int) -> _PhaseData:
        """Inputs when the first ``frozen_stages`` stages (or the whole backbone) are frozen and cached."""
        import torch

        model, cfg = self.model, self.config
        n_groups = len(self.backbone.groups)
        if frozen_stages >= n_groups:
            frozen, boundary, tail = model.backbone, "pooled", None
        else:
            frozen, tail = self.split_stages(frozen_stages)
            boundary = f"stage-{frozen_stages}"

        def forward(x: "torch.Tensor") -> "torch.Tensor":
            if tail is None:
                return model.head(x)
            return model.head(tail(x.contiguous(memory_format=torch.channels_last)))  # rows are stored NCHW

        train_idx, val_idx = self.split.train, self.split.val
        if cfg.augment.enabled:
            val_rows, val_pos, nbytes = self._frozen_rows(frozen, boundary, val_idx)
            bank = [self._frozen_rows(frozen, boundary, train_idx, f"aug-{v}/{cfg.augment}/{cfg.seed}", cfg.augment)
                    for v in range(cfg.aug_views)]
            nbytes += sum(b[2] for b in bank)
            mode = "aug-bank"
        else:  # one pass over train and validation images together
            rows, pos, nbytes = self._frozen_rows(frozen, boundary, np.concatenate([train_idx, val_idx]))
            bank = [(rows, pos[:len(train_idx)], nbytes)]
            val_rows, val_pos = rows, pos[len(train_idx):]
            mode = "features" if tail is None else "prefix"

        def train_batches(epoch: int) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
            gen = np.random.default_rng(_stable_seed(cfg.seed, "views", epoch))
            views = gen.integers(0, len(bank), size=len(train_idx))
            for batch in self.batch_order(epoch, len(train_idx)):
                if len(bank) == 1:  # exact features: one gather
                    x = np.asarray(bank[0][0][bank[0][1][batch]], dtype=np.float32)
                else:
                    x = np.empty((len(batch), *bank[0][0].shape[1:]), dtype=np.float32)
                    batch_views = views[batch]
                    for v, (rows, positions, _) in enumerate(bank):  # one gather per view and batch
                        pick = batch_views == v
                        if pick.any():
                            x[pick] = rows[positions[batch[pick]]]
                yield torch.from_numpy(x), self.labels[train_idx[batch]]

        def val_batches() -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
            for i in range(0, len(val_idx), cfg.batch_size):
                pos = val_pos[i:i + cfg.batch_size]
                yield torch.from_numpy(np.asarray(val_rows[pos])), self.labels[val_idx[i:i + cfg.batch_size]]

        def cached_inputs(indices: np.ndarray) -> Iterator["torch.Tensor"]:
            rows, pos, _ = self._frozen_rows(frozen, boundary, indices)
            for i in range(0, len(indices), cfg.batch_size):
                yield torch.from_numpy(np.asarray(rows[pos[i:i + cfg.batch_size]]))

        return _PhaseData(mode, forward, train_batches, val_batches, nbytes, cached_inputs)

    def split_stages(self, frozen_stages: int) -> tuple["torch.nn.Module", "torch.nn.Module"]:
        """The frozen stages and the trainable tail, both channels-last like the model (its global pool keeps the
        gradient's layout, see :mod:`tlcore.layers`, so the tail's BatchNorm backward stays on the fast path)."""
        import torch

        stages = self.backbone.stages
        assert stages is not None
        return torch.nn.Sequential(*stages[:frozen_stages]), torch.nn.Sequential(*stages[frozen_stages:])

    def image_phase(self, frozen_stages: int = 0) -> _PhaseData:
        """Inputs when the whole network runs every step: images loaded (and augmented) on the fly."""
        import torch

        cfg, train_idx, val_idx = self.config, self.split.train, self.split.val
        forward: Callable[["torch.Tensor"], "torch.Tensor"] = self.model
        if 0 < frozen_stages < len(self.backbone.groups) and self.backbone.stages is not None:
            prefix, tail = self.split_stages(frozen_stages)  # the same layouts as with the prefix cache

            def split_forward(x: "torch.Tensor") -> "torch.Tensor":
                with torch.no_grad():  # frozen: nothing to remember for backward
                    x = prefix(x)
                return self.model.head(tail(x))

            forward = split_forward
        transform = self.train_tf if cfg.augment.enabled else self.eval_tf
        val_tensors: list[torch.Tensor] = []

        def train_batches(epoch: int) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
            batches = list(self.batch_order(epoch, len(train_idx)))
            if not cfg.augment.enabled:  # no random numbers involved: decode the epoch ahead in the loader thread
                hashes = [self.hashes[train_idx[i]] for batch in batches for i in batch]
                images = batched_images(self.ws, hashes, transform, cfg.batch_size)
                for batch, x in zip(batches, images):
                    yield x, self.labels[train_idx[batch]]
                return
            for batch in batches:  # seeded per image in this thread, as dropout draws from the same global RNG
                hashes = [self.hashes[train_idx[i]] for i in batch]
                seeds = [_stable_seed(cfg.seed, "aug", epoch, train_idx[i]) for i in batch]
                x = next(batched_images(self.ws, hashes, transform, len(hashes), seeds=seeds, prefetch=0))
                yield x, self.labels[train_idx[batch]]

        def val_batches() -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
            if not val_tensors:  # decoded and preprocessed once, kept for every epoch
                val_tensors.extend(batched_images(self.ws, [self.hashes[i] for i in val_idx], self.eval_tf,
                                                  cfg.batch_size))
            for j, x in enumerate(val_tensors):
                yield x, self.labels[val_idx[j * cfg.batch_size:(j + 1) * cfg.batch_size]]

        return _PhaseData("none", forward, train_batches, val_batches, 0)

    def phase_data(self, n_trainable: int) -> _PhaseData:
        """Pick cached or uncached inputs for the current number of trainable groups."""
        n_groups = len(self.backbone.groups)
        frozen = n_groups - n_trainable
        if self.config.cache and frozen > 0 and (frozen >= n_groups or self.backbone.stages is not None):
            return self.cached_phase(frozen)
        return self.image_phase(frozen)

    def batch_order(self, epoch: int, n: int) -> Iterator[np.ndarray]:
        """Shuffled mini-batches of positions 0..n-1 for ``epoch``; a last batch of one sample is dropped."""
        perm = np.random.default_rng(_stable_seed(self.config.seed, "shuffle", epoch)).permutation(n)
        bs = self.config.batch_size
        for i in range(0, n, bs):
            batch = perm[i:i + bs]
            if len(batch) == 1 and n > 1:
                return  # batch norm can't train on a single sample
            yield batch


# ---------------------------------------------------------------------------------------------------------------
# The loop


def wants_pretrained(config: TrainConfig) -> bool:
    """Whether the run needs pretrained weights: every strategy but from-scratch does.

    The one exception: timm's tiny ``test_*`` models, which the app's and CLI's tests train with random weights when
    ``TLCORE_TEST_BACKBONES=1`` is set; the run then records ``pretrained: false`` and says "random init".
    """
    if config.backbone.startswith("timm/test_") and os.environ.get("TLCORE_TEST_BACKBONES") == "1":
        return False
    return uses_pretrained(config.strategy)


def _class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def _evaluate(phase: _PhaseData, n_classes: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy, probabilities and labels over the validation batches, in eval mode."""
    import torch

    probs, labels, loss_sum, n = [], [], 0.0, 0
    with torch.inference_mode():
        for x, y in phase.val_batches():
            logits = phase.forward(x).float()
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            n += len(y)
            probs.append(torch.softmax(logits, dim=1).numpy())
            labels.append(y.numpy())
    if n == 0:
        return float("nan"), np.zeros((0, n_classes), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return loss_sum / n, np.concatenate(probs), np.concatenate(labels)


def _balanced_accuracy(labels: np.ndarray, probs: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in ``labels`` (as :func:`classification_metrics` computes it), without
    scikit-learn's per-call overhead: it runs every epoch."""
    if len(labels) == 0:
        return float("nan")
    support = np.bincount(labels, minlength=n_classes)
    hits = np.bincount(labels[probs.argmax(1) == labels], minlength=n_classes)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


def _changing_state_keys(model: "TransferModel", strategy: StrategyConfig, epochs: int) -> set[str]:
    """State-dict keys that training can change: everything but the groups frozen in every epoch.

    Frozen groups keep their weights and, staying in eval mode, their BatchNorm statistics, so the best epoch's
    snapshot needs only the rest: for feature extraction that is the head alone, not the whole backbone.
    """
    n_groups = model.num_groups
    most = max(trainable_group_count(strategy, n_groups, e) for e in range(epochs))
    static = {f"backbone.{p}" for g in model.groups[:n_groups - most] for p in g.param_names}
    owned: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        owned.setdefault(name.rpartition(".")[0], []).append(name)
    keys = set()
    for key in model.state_dict():
        if key in static:
            continue
        params = owned.get(key.rpartition(".")[0])
        if params and key not in params and all(p in static for p in params):
            continue  # a buffer (BatchNorm statistics) of an always-frozen module
        keys.add(key)
    return keys


def _improved(monitor: str, value: float, best: float | None) -> bool:
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value < best if monitor == "val_loss" else value > best


def train(ws: Workspace, dataset: "Dataset", config: TrainConfig, split: "Split | None" = None,
          on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
          backbone: Backbone | None = None, test_from_cache: bool = False) -> TrainResult:
    """Train a transfer model on ``dataset`` as ``config`` says; evaluate it on the validation and test split.

    Args:
        ws: workspace holding the images and the feature caches.
        dataset: an imported dataset.
        config: backbone, strategy and training settings.
        split: the train/val/test split; made from the config's fractions and seed if None.
        on_event: receives progress events.
        cancel: checked between steps; raises :class:`~tlcore.errors.Cancelled` when set.
        backbone: a freshly created backbone to use instead of creating one (it is trained in place).
        test_from_cache: score the test images through the frozen part's cache too (cross-validation does, so
            k folds cost one backbone pass). Off by default: a saved run's test predictions then come from the
            whole model, exactly as a reloaded run recomputes them.

    Raises:
        WeightsUnavailable: if the strategy needs pretrained weights that can't be had.
        Cancelled: if ``cancel`` was set.
    """
    import torch

    from tlcore.data import make_split
    from tlcore.models.transfer import TransferModel

    config.check()
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    if split is None:
        split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    strategy = config.strategy
    if backbone is None:
        backbone = create_backbone(config.backbone, pretrained=wants_pretrained(config),
                                   weights_file=config.weights_file)
    torch.manual_seed(config.seed)
    model = TransferModel(backbone, len(dataset.classes), head=strategy.head, hidden=strategy.hidden,
                          dropout=strategy.dropout)
    model = model.to(memory_format=torch.channels_last)
    trainer = _Trainer(ws, dataset, split, model, backbone, config, on_event, cancel)

    n_groups = len(backbone.groups)
    n_classes = len(dataset.classes)
    train_labels = dataset.labels[split.train]
    weight = torch.from_numpy(_class_weights(train_labels, n_classes)) if config.class_weighted else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
    steps_per_epoch = max(1, len(split.train) // config.batch_size + (len(split.train) % config.batch_size > 1))
    total_steps = config.epochs * steps_per_epoch

    history: list[dict[str, Any]] = []
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, bad_epochs, stopped_early, step = 0, 0, False, 0
    phase: _PhaseData | None = None
    optimizer: torch.optim.Optimizer | None = None
    current_trainable, max_trainable_params, cache_bytes = -1, 0, 0
    modes: list[str] = []
    train_seconds = 0.0
    changing = _changing_state_keys(model, strategy, config.epochs)
    tracked: dict[str, torch.Tensor] = {}  # the tensors behind ``changing`` (layouts may change between phases)
    running: torch.nn.Module = model  # the part that runs: just the head on cached features

    for epoch in range(config.epochs):
        n_trainable = trainable_group_count(strategy, n_groups, epoch)
        if n_trainable != current_trainable:
            current_trainable = n_trainable
            model.set_trainable(n_trainable)
            phase = trainer.phase_data(n_trainable)
            cache_bytes = max(cache_bytes, phase.cache_bytes)
            modes.append(phase.mode)
            groups = param_groups(model, strategy, n_trainable)
            for g in groups:
                g["base_lr"] = g["lr"]
            optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=True)  # one op per step
            tracked = {k: v for k, v in model.state_dict(keep_vars=True).items() if k in changing}
            running = model.head if phase.mode == "features" else model
            max_trainable_params = max(max_trainable_params, model.trainable_parameters())
            on_event(Message(f"epoch {epoch + 1}: training the head and the last {n_trainable} of {n_groups} "
                             f"block groups ({model.trainable_parameters():,} parameters; inputs: {phase.mode})"))
        assert phase is not None and optimizer is not None
        epoch_start = time.perf_counter()
        timer = ProgressTimer(f"epoch {epoch + 1}/{config.epochs}", steps_per_epoch, on_event)
        running.train()
        loss_sum, correct, seen = 0.0, 0, 0
        # a head on cached features is too small to share between threads: hand-offs would cost more than they save
        with torch_threads(1 if phase.mode == "features" else None):
            for x, y in phase.train_batches(epoch):
                cancel.raise_if_cancelled()
                factor = lr_factor(config.schedule, step / total_steps)
                for g in optimizer.param_groups:
                    g["lr"] = g["base_lr"] * factor
                logits = phase.forward(x)
                loss = loss_fn(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                loss_sum += float(loss.detach()) * len(y)
                correct += int((logits.detach().argmax(1) == y).sum())
                seen += len(y)
                timer.update(min(seen // config.batch_size + (seen % config.batch_size > 0), steps_per_epoch))
            running.eval()
            val_loss, val_probs, val_labels = _evaluate(phase, n_classes)
        val_pred = val_probs.argmax(1) if len(val_labels) else np.zeros(0, dtype=np.int64)
        val_acc = float(np.mean(val_pred == val_labels)) if len(val_labels) else float("nan")
        val_bal = _balanced_accuracy(val_labels, val_probs, n_classes)
        epoch_seconds = time.perf_counter() - epoch_start
        train_seconds += epoch_seconds
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                  "val_loss": val_loss, "val_accuracy": val_acc, "val_balanced_accuracy": val_bal,
                  "lr": optimizer.param_groups[-1]["lr"], "trainable_groups": n_trainable,
                  "trainable_params": model.trainable_parameters(), "seconds": epoch_seconds, "inputs": phase.mode}
        history.append(record)
        elapsed = time.perf_counter() - started
        remaining = (config.epochs - epoch - 1) * (train_seconds / (epoch + 1))
        on_event(EpochEnd(epoch + 1, config.epochs, record["train_loss"], val_loss, val_acc, record["train_accuracy"],
                          record["lr"], elapsed, remaining, record["trainable_params"]))
        value = record[config.monitor]
        if _improved(config.monitor, value, best_value):
            best_value, best_epoch, bad_epochs = value, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in tracked.items()}
        else:
            bad_epochs += 1
            if config.patience and bad_epochs >= config.patience:
                stopped_early = True
                on_event(Message(f"early stopping after epoch {epoch + 1}: {config.monitor} has not improved for "
                                 f"{config.patience} epochs; restoring the weights of epoch {best_epoch}"))
                break

    if best_state is not None:
        missing = model.load_state_dict(best_state, strict=False).missing_keys
        assert set(missing).isdisjoint(changing), "the best epoch's snapshot lacks a tensor that training changed"
    model.eval()
    assert phase is not None
    _, val_probs, val_labels = _evaluate(phase, n_classes)
    val_metrics = classification_metrics(val_labels, val_probs, dataset.classes)
    eval_start = time.perf_counter()
    if test_from_cache and phase.cached_inputs is not None:
        with torch.inference_mode():
            batches = [torch.softmax(phase.forward(x).float(), 1).numpy() for x in phase.cached_inputs(split.test)]
        test_probs = np.concatenate(batches) if batches else np.zeros((0, n_classes), dtype=np.float32)
    else:  # the same path a reloaded run takes, so a saved run reproduces these predictions exactly
        test_hashes = [dataset.hashes[i] for i in split.test]
        test_probs = predict_stored(model, ws, test_hashes, trainer.eval_tf, on_event, cancel, phase="test")
    test_metrics = classification_metrics(dataset.labels[split.test], test_probs, dataset.classes)
    test_seconds = time.perf_counter() - eval_start
    total = time.perf_counter() - started
    timings = {"features": trainer.feature_seconds, "train": train_seconds, "test": test_seconds, "total": total}
    mode = "aug-bank" if "aug-bank" in modes else ("prefix" if "prefix" in modes else
                                                   ("features" if "features" in modes else "none"))
    return TrainResult(model=model, backbone=backbone, config=config, dataset_id=dataset.id,
                       classes=tuple(dataset.classes), split=split, history=history, val_metrics=val_metrics,
                       test_metrics=test_metrics, test_probs=test_probs, timings=timings, cache_mode=mode,
                       best_epoch=best_epoch, stopped_early=stopped_early, trainable_params=max_trainable_params,
                       cache_bytes=cache_bytes)


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``config`` with top-level or ``strategy__field`` / ``augment__field`` changes."""
    top = {k: v for k, v in changes.items() if "__" not in k}
    for prefix in ("strategy", "augment"):
        nested = {k.split("__", 1)[1]: v for k, v in changes.items() if k.startswith(prefix + "__")}
        if nested:
            top[prefix] = replace(getattr(config, prefix), **nested)
    return replace(config, **top)

