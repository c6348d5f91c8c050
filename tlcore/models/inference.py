"""Run a network over stored images: frozen parts to rows (for the caches) and whole models to probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from tlcore.data.loader import FEATURE_BATCH, batched_images
from tlcore.events import CancelToken, EventCallback, ProgressTimer, ignore_event
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    import torch
    from PIL import Image


def iter_frozen(module: "torch.nn.Module", ws: Workspace, hashes: Sequence[str],
                transform: Callable[["Image.Image"], "torch.Tensor"], phase: str,
                on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
                batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Run a frozen ``module`` over stored images in eval and inference mode, yielding float32 row batches.

    Progress goes to ``on_event`` under ``phase``; ``cancel`` is checked before every batch.
    """
    import torch

    was_training = module.training
    module.eval()
    timer = ProgressTimer(phase, len(hashes), on_event)
    done = 0
    try:
        for batch in batched_images(ws, hashes, transform, batch_size, seeds):
            if cancel is not None:
                cancel.raise_if_cancelled()
            with torch.inference_mode():  # entered per batch: a grad mode must not leak to the caller at a yield
                y = module(batch.contiguous(memory_format=torch.channels_last)).float().contiguous()
            done += len(batch)
            timer.update(done)
            yield y.numpy()
    finally:
        module.train(was_training)
    timer.update(done, force=True)


def run_frozen(module: "torch.nn.Module", ws: Workspace, hashes: Sequence[str],
               transform: Callable[["Image.Image"], "torch.Tensor"], phase: str,
               on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
               batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None) -> np.ndarray:
    """Run a frozen ``module`` over stored images once, in eval and inference mode; one float32 row per image."""
    out = list(iter_frozen(module, ws, hashes, transform, phase, on_event, cancel, batch_size, seeds))
    return np.concatenate(out) if out else np.zeros((0,), dtype=np.float32)


def probs_from_batches(model: "torch.nn.Module", batches, total: int, on_event: EventCallback = ignore_event,
                       cancel: CancelToken | None = None, phase: str = "predict") -> np.ndarray:
    """Softmax probabilities of ``model`` over an iterable of normalised image batches, in eval/inference mode."""
    import torch

    was_training = model.training
    model.eval()
    timer = ProgressTimer(phase, total, on_event)
    out, done = [], 0
    try:
        with torch.inference_mode():
            for batch in batches:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                logits = model(batch.contiguous(memory_format=torch.channels_last))
                out.append(torch.softmax(logits.float(), dim=1).numpy())
                done += len(batch)
                timer.update(done)
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def predict_stored(model: "torch.nn.Module", ws: Workspace, hashes: Sequence[str],
                   transform: Callable[[Image.Image], "torch.Tensor"], on_event: EventCallback = ignore_event,
                   cancel: CancelToken | None = None, phase: str = "predict") -> np.ndarray:
    """Probabilities for stored images (by content hash), in fixed batches so results are reproducible."""
    batches = batched_images(ws, list(hashes), transform, FEATURE_BATCH)
    return probs_from_batches(model, batches, len(hashes), on_event, cancel, phase)
