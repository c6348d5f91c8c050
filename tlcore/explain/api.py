"""The one call shape for every method: ``explain(model, inputs, targets, config) -> list[Attribution]``.

``model`` maps normalised images ``(N, 3, H, W)`` to logits (a ``TransferModel`` or any classifier).
The model is borrowed (eval mode, no parameter gradients, hooks removed afterwards) and handed back
exactly as it was, also when a method fails.
"""

from __future__ import annotations

import logging
import time
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcore.events import CancelToken, EventCallback, ProgressTimer, ignore_event
from tlcore.explain.cam_layers import find_cam_layer
from tlcore.explain.config import Attribution, ExplainConfig
from tlcore.explain.errors import ExplainError, MethodUnavailable
from tlcore.explain.guard import borrowed
from tlcore.explain.methods import METHODS

log = logging.getLogger(__name__)


def explain(
    model: nn.Module,
    inputs: Tensor,
    targets: Sequence[int],
    config: ExplainConfig,
    baseline: Optional[Tensor] = None,
    on_event: EventCallback = ignore_event,
    cancel: Optional[CancelToken] = None,
    phase: str = "explain",
) -> list[Attribution]:
    """One attribution map per image, at the image's size.

    Args:
        model: normalised images -> logits.
        inputs: (N, 3, H, W), already normalised like the model's training data.
        targets: one class index per image (predicted, true or any class).
        config: method and its settings.
        baseline: reference image (3, H, W) or (1, 3, H, W) in normalised space for Integrated Gradients,
            GradientShap and Occlusion; default zeros, i.e. the normalisation's mean colour.
        on_event: receives progress events (one step per image).
        cancel: checked between images.
        phase: the progress phase's name.

    Raises:
        ExplainError: inputs/targets/baseline have the wrong shape or a target is out of range.
        MethodUnavailable: the method cannot work on this model (says why).
    """
    x, targets = _check_inputs(inputs, targets)
    size = tuple(x.shape[-2:])
    x = _fit(x, config.max_side)
    base = _baseline(baseline, size, x)
    timer = ProgressTimer(phase, len(x), on_event)
    results: list[Attribution] = []
    with borrowed(model):
        _check_targets(model, x, targets)
        info = METHODS[config.method]
        run = info.prepare(model, x[:1], config)
        chunk = config.internal_batch_size if info.batched else 1
        for start in range(0, len(x), chunk):
            if cancel is not None:
                cancel.raise_if_cancelled()
            part, part_targets = x[start : start + chunk], targets[start : start + chunk]
            began = time.perf_counter()
            maps, deltas = _attribute(run, model, config.method, part, part_targets, base)
            maps = _resize(maps.detach(), size)
            seconds = (time.perf_counter() - began) / len(part)
            for i, target in enumerate(part_targets):
                delta = None if deltas is None else float(deltas[i])
                results.append(Attribution(maps[i].numpy().astype(np.float32), config.method, target, delta, seconds))
            timer.update(len(results), message=info.label)
    return results


@torch.no_grad()
def predict_proba(model: nn.Module, inputs: Tensor, batch_size: int = 32) -> np.ndarray:
    """Softmax probabilities (N, classes) for normalised inputs, with the model borrowed in eval mode."""
    out = []
    with borrowed(model):
        for start in range(0, len(inputs), batch_size):
            out.append(torch.softmax(model(inputs[start : start + batch_size]).float(), dim=1))
    return torch.cat(out).numpy()


def predicted_targets(model: nn.Module, inputs: Tensor) -> list[int]:
    """The model's predicted class per image (the usual target to explain)."""
    return [int(i) for i in predict_proba(model, inputs).argmax(axis=1)]


def method_availability(model: nn.Module, example: Tensor) -> dict[str, Optional[str]]:
    """For each method, None if it can run on ``model``, else the reason in plain words.

    ``example`` is one normalised image batch (only the first image is used).
    """
    x = example[:1].detach()
    reasons: dict[str, Optional[str]] = {name: None for name in METHODS}
    with borrowed(model):
        if not _gradient_reaches_input(model, x):
            why = "gradients do not flow from the model's output back to the image"
            for name, info in METHODS.items():
                if info.gradients:
                    reasons[name] = why
        else:
            try:
                find_cam_layer(model, x)
            except MethodUnavailable as err:
                reasons["gradcam"] = str(err)
    return reasons


def _attribute(run, model: nn.Module, method: str, x: Tensor, targets: list[int], base: Tensor):
    try:
        with torch.enable_grad():
            return run(x.detach().clone().requires_grad_(True), targets, base)
    except RuntimeError as err:
        if METHODS[method].gradients and _gradients_blocked(model, x[:1]):
            raise MethodUnavailable(
                f"{METHODS[method].label} needs gradients, but they do not flow from this model's output "
                f"back to the image ({type(model).__name__})"
            ) from err
        raise


def _gradients_blocked(model: nn.Module, x: Tensor) -> bool:
    """True only if a probe shows that no gradient reaches the image (a failing probe proves nothing)."""
    try:
        return not _gradient_reaches_input(model, x)
    except RuntimeError:
        return False


def _gradient_reaches_input(model: nn.Module, x: Tensor) -> bool:
    with torch.enable_grad():
        probe = x.detach().clone().requires_grad_(True)
        out = model(probe)
        if not isinstance(out, Tensor) or not out.requires_grad:
            return False
        (grad,) = torch.autograd.grad(out.float().square().sum(), probe, allow_unused=True)
    return grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0)


def _check_inputs(inputs: Tensor, targets: Sequence[int]) -> tuple[Tensor, list[int]]:
    if not isinstance(inputs, Tensor) or inputs.ndim != 4 or inputs.shape[1] != 3:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ExplainError(f"explain: inputs must be a tensor of shape (N, 3, H, W), got {shape}")
    targets = [int(t) for t in targets]
    if len(targets) != len(inputs):
        raise ExplainError(f"explain: {len(inputs)} images but {len(targets)} targets; give one target per image")
    if len(inputs) == 0:
        raise ExplainError("explain: no images given")
    return inputs.detach().float(), targets


def _check_targets(model: nn.Module, x: Tensor, targets: list[int]) -> None:
    n_classes = getattr(model, "num_classes", None)  # TransferModel and timm models know it; else ask the model
    if not isinstance(n_classes, int) or n_classes < 1:
        with torch.no_grad():
            n_classes = model(x[:1]).shape[-1]
    bad = [t for t in targets if not 0 <= t < n_classes]
    if bad:
        raise ExplainError(f"explain: target class {bad[0]} is out of range; the model has {n_classes} classes")


def _fit(x: Tensor, max_side: int) -> Tensor:
    """Downscale so the longer side is at most ``max_side`` (bounds cost; maps are upsampled back)."""
    h, w = x.shape[-2:]
    if max(h, w) <= max_side:
        return x
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    log.info("attributing at %dx%d instead of %dx%d (ExplainConfig.max_side=%d)", size[1], size[0], w, h, max_side)
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def _resize(maps: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(maps.shape[-2:]) == size:
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _baseline(baseline: Optional[Tensor], size: tuple[int, int], x: Tensor) -> Tensor:
    if baseline is None:
        return torch.zeros(1, *x.shape[1:])
    b = baseline.detach().float()
    if b.ndim == 3:
        b = b[None]
    if b.ndim != 4 or b.shape[0] != 1 or b.shape[1] != 3 or tuple(b.shape[-2:]) != size:
        raise ExplainError(f"explain: baseline must have shape (3, {size[0]}, {size[1]}), got {tuple(baseline.shape)}")
    return b if tuple(x.shape[-2:]) == size else _fit(b, max(x.shape[-2:]))
