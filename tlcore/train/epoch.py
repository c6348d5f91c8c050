"""One epoch of training: the optimizer steps over the training batches, then the validation scores.

A :class:`Phase` is a stretch of epochs that train the same block groups (with their inputs); one optimizer serves
every phase of a training, gaining a parameter group per newly unfrozen block group, so the groups that were already
training keep their state. An :class:`EpochRunner` runs the epochs one after another and counts the steps that the
learning-rate schedule follows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.events import CancelToken, EpochEnd, EventCallback, ProgressTimer
from tlcore.runtime.threads import torch_threads
from tlcore.train.config import TrainConfig
from tlcore.train.inputs import EpochInputs, InputPipeline
from tlcore.train.schedules import lr_factor
from tlcore.train.strategies import param_groups

if TYPE_CHECKING:
    import torch

    from tlcore.models.transfer import TransferModel


@dataclass
class Phase:
    """A stretch of epochs that train the same block groups."""

    n_trainable: int  # block groups that train, counted from the top
    inputs: EpochInputs
    optimizer: "torch.optim.Optimizer"  # shared by all phases; its groups carry ``base_lr``, which the schedule scales
    running: "torch.nn.Module"  # the part that runs: just the head on cached features
    tracked: dict[str, "torch.Tensor"]  # the tensors behind the changing state keys (layouts may change)
    trainable_params: int


def start_phase(model: "TransferModel", pipeline: InputPipeline, config: TrainConfig, n_trainable: int,
                changing: set[str], previous: Phase | None = None) -> Phase:
    """Unfreeze the top ``n_trainable`` groups and set up their inputs and the optimizer.

    The first phase (``previous`` None) gets a fresh AdamW; a later one keeps ``previous``'s and adds a parameter
    group for each newly unfrozen block group (see :func:`extend_optimizer`), so the head and the groups that were
    already training keep their moments and step counts across the unfreeze.
    """
    import torch

    model.set_trainable(n_trainable)
    inputs = pipeline.inputs(n_trainable)
    groups = param_groups(model, config.strategy, n_trainable)
    if previous is None:
        for g in groups:
            g["base_lr"] = g["lr"]
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=True)  # one op per step
    else:
        optimizer = previous.optimizer
        extend_optimizer(optimizer, groups)
    tracked = {k: v for k, v in model.state_dict(keep_vars=True).items() if k in changing}
    running = model.head if inputs.mode == "features" else model
    return Phase(n_trainable, inputs, optimizer, running, tracked, model.trainable_parameters())


def extend_optimizer(optimizer: "torch.optim.Optimizer", groups: list[dict]) -> list[str]:
    """Add the parameter groups of ``groups`` (from :func:`~tlcore.train.strategies.param_groups`) that
    ``optimizer`` lacks, each with its strategy rate as ``base_lr``; return their names.

    Groups already there keep their parameters' state; their ``base_lr`` is set to the strategy's rate again (the
    same for every catalogue strategy: a group's rate depends only on its depth below the top). New groups are
    appended, after the head. A group that was frozen again stays in the optimizer: without gradients AdamW skips it.

    Raises:
        RuntimeError: a block group is only partly in the optimizer (the groups no longer match the model's).
    """
    present = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    added = []
    for group in groups:
        owners = [present.get(id(p)) for p in group["params"]]
        if owners and all(o is not None for o in owners):
            for owner in {id(o): o for o in owners}.values():
                owner["base_lr"] = group["lr"]
            continue
        if any(o is not None for o in owners):
            raise RuntimeError(f"block group {group['name']!r} is only partly in the optimizer: its parameter groups "
                               "no longer match the model's block groups")
        optimizer.add_param_group({**group, "base_lr": group["lr"]})
        added.append(group["name"])
    return added


def head_lr(optimizer: "torch.optim.Optimizer") -> float:
    """The head's current learning rate (its parameter group is named ``head``)."""
    return next(g["lr"] for g in optimizer.param_groups if g.get("name") == "head")


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency loss weights (0 for a class absent from ``labels``)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def evaluate(inputs: EpochInputs, n_classes: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy, probabilities and labels over the validation batches (call in eval mode)."""
    import torch

    probs, labels, loss_sum, n = [], [], 0.0, 0
    with torch.inference_mode():
        for x, y in inputs.val_batches():
            logits = inputs.forward(x).float()
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            n += len(y)
            probs.append(torch.softmax(logits, dim=1).numpy())
            labels.append(y.numpy())
    if n == 0:
        return float("nan"), np.zeros((0, n_classes), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return loss_sum / n, np.concatenate(probs), np.concatenate(labels)


def balanced_accuracy(labels: np.ndarray, probs: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in ``labels`` (as :func:`tlcore.metrics.classification_metrics`
    computes it), without scikit-learn's per-call overhead: it runs every epoch."""
    if len(labels) == 0:
        return float("nan")
    support = np.bincount(labels, minlength=n_classes)
    hits = np.bincount(labels[probs.argmax(1) == labels], minlength=n_classes)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


class EpochRunner:
    """Runs the epochs of one training, one after another, and reports each with an :class:`EpochEnd` event.

    ``train_labels`` are the labels of the training part (for class weights); ``started`` is when the training
    began (``time.perf_counter()``), for the elapsed time in the events.
    """

    def __init__(self, model: "TransferModel", config: TrainConfig, train_labels: np.ndarray, n_classes: int,
                 on_event: EventCallback, cancel: CancelToken, started: float) -> None:
        import torch

        self.model, self.config, self.n_classes = model, config, n_classes
        self.on_event, self.cancel, self.started = on_event, cancel, started
        weight = torch.from_numpy(class_weights(train_labels, n_classes)) if config.class_weighted else None
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
        n, bs = len(train_labels), config.batch_size
        self.steps_per_epoch = max(1, n // bs + (n % bs > 1))
        self.total_steps = config.epochs * self.steps_per_epoch
        self.step = 0  # optimizer steps so far, over all epochs
        self.train_seconds = 0.0

    def run(self, phase: Phase, epoch: int) -> dict[str, Any]:
        """Train ``epoch`` (0-based), score the validation part; return the epoch's history record."""
        cfg, inputs = self.config, phase.inputs
        epoch_start = time.perf_counter()
        timer = ProgressTimer(f"epoch {epoch + 1}/{cfg.epochs}", self.steps_per_epoch, self.on_event)
        running = phase.running
        running.train()
        # a head on cached features is too small to share between threads: hand-offs would cost more than they save
        with torch_threads(1 if inputs.mode == "features" else None):
            loss_sum, correct, seen = self._train(phase, epoch, timer)
            running.eval()
            val_loss, val_probs, val_labels = evaluate(inputs, self.n_classes)
        val_pred = val_probs.argmax(1) if len(val_labels) else np.zeros(0, dtype=np.int64)
        val_acc = float(np.mean(val_pred == val_labels)) if len(val_labels) else float("nan")
        val_bal = balanced_accuracy(val_labels, val_probs, self.n_classes)
        epoch_seconds = time.perf_counter() - epoch_start
        self.train_seconds += epoch_seconds
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                  "val_loss": val_loss, "val_accuracy": val_acc, "val_balanced_accuracy": val_bal,
                  "lr": head_lr(phase.optimizer), "trainable_groups": phase.n_trainable,
                  "trainable_params": self.model.trainable_parameters(), "seconds": epoch_seconds,
                  "inputs": inputs.mode}
        elapsed = time.perf_counter() - self.started
        remaining = (cfg.epochs - epoch - 1) * (self.train_seconds / (epoch + 1))
        self.on_event(EpochEnd(epoch + 1, cfg.epochs, record["train_loss"], val_loss, val_acc,
                               record["train_accuracy"], record["lr"], elapsed, remaining, record["trainable_params"]))
        return record

    def _train(self, phase: Phase, epoch: int, timer: ProgressTimer) -> tuple[float, int, int]:
        """The optimizer steps of one epoch: summed loss, correct predictions and samples seen."""
        cfg, optimizer = self.config, phase.optimizer
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in phase.inputs.train_batches(epoch):
            self.cancel.raise_if_cancelled()
            factor = lr_factor(cfg.schedule, self.step / self.total_steps)
            for g in optimizer.param_groups:
                g["lr"] = g["base_lr"] * factor
            logits = phase.inputs.forward(x)
            loss = self.loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.step += 1
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            timer.update(min(seen // cfg.batch_size + (seen % cfg.batch_size > 0), self.steps_per_epoch))
        return loss_sum, correct, seen
