"""Finding the layer Grad-CAM looks at, for any backbone we offer, by watching one forward pass.

Rule: probe every submodule of the feature extractor (``model.backbone`` when the model has one, else the
model) with forward hooks on one example image, and keep modules called exactly once.

* Convolutional backbones: the last module (in execution order) whose output is a 4-D feature map
  ``(N, C, h, w)`` with ``h, w > 1`` — the last convolutional stage, before global pooling.
* Vision transformers: when a 3-D token sequence ``(N, prefix + h*w, C)`` is produced after the last
  such feature map, the tokens are the features. Prefix tokens (class/register tokens, timm's
  ``num_prefix_tokens``) are dropped and the patch tokens reshaped to the ``h x w`` grid. Among token
  outputs of the residual width ``C``, the last whose patch tokens still receive gradient is used (in a
  class-token ViT the last block's patch outputs never reach the logits, so this lands on the last
  block's ``norm1``, the usual Grad-CAM choice for ViTs).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from tlcore.explain.errors import MethodUnavailable
from tlcore.explain.guard import borrowed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CamLayer:
    """Where Grad-CAM hooks in, and how to read that layer's output as a spatial map."""

    name: str  # dotted module name inside the explained model
    kind: str  # "feature-map" (N, C, h, w) | "tokens" (N, prefix + h*w, C)
    grid: tuple[int, int]  # (h, w) of the map before upsampling
    channels: int
    prefix_tokens: int = 0  # tokens only: leading class/register tokens left out of the grid


@dataclass(frozen=True)
class _Seen:
    order: int
    name: str
    shape: tuple[int, ...]


def feature_root(model: nn.Module) -> tuple[nn.Module, str]:
    """The feature extractor inside ``model`` and its name prefix (``model.backbone`` if present)."""
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, nn.Module):
        return backbone, "backbone."
    return model, ""


def find_cam_layer(model: nn.Module, example: Tensor) -> CamLayer:
    """Find the Grad-CAM layer of ``model`` using ``example`` (N>=1, 3, H, W; only the first image is used).

    Raises:
        MethodUnavailable: no submodule produces a spatial feature map or patch tokens.
    """
    root, prefix = feature_root(model)
    x = example[:1].detach()
    with borrowed(model):
        seen = _probe_shapes(model, root, x)
    calls = Counter(s.name for s in seen)
    once = [s for s in seen if calls[s.name] == 1]
    maps = [s for s in once if len(s.shape) == 4 and s.shape[2] > 1 and s.shape[3] > 1]
    n_prefix = _prefix_tokens(root)
    tokens = [s for s in once if len(s.shape) == 3 and _token_grid(root, x, s.shape[1], n_prefix) is not None]
    kind = type(root).__name__
    if tokens and (not maps or tokens[-1].order > maps[-1].order):
        width = Counter(s.shape[2] for s in tokens).most_common(1)[0][0]
        tokens = [s for s in tokens if s.shape[2] == width]
        with borrowed(model):
            chosen = _last_with_patch_gradient(model, root, x, tokens, _prefix_or_guess(root, x, tokens[-1].shape[1]))
        if chosen is None:
            raise MethodUnavailable(f"Grad-CAM is not available for {kind}: no patch-token output reaches the logits")
        count = chosen.shape[1]
        n_prefix = _prefix_or_guess(root, x, count)
        grid = _token_grid(root, x, count, n_prefix)
        if grid is None:
            raise MethodUnavailable(f"Grad-CAM is not available for {kind}: the {count} tokens of "
                                    f"{prefix + chosen.name} do not form a patch grid")
        return CamLayer(prefix + chosen.name, "tokens", grid, chosen.shape[2], n_prefix)
    if maps:
        last = maps[-1]
        return CamLayer(prefix + last.name, "feature-map", (last.shape[2], last.shape[3]), last.shape[1])
    raise MethodUnavailable(
        f"Grad-CAM is not available for {kind}: none of its {len(calls)} layers outputs a spatial feature map "
        "or patch tokens (Grad-CAM needs a convolutional or vision-transformer backbone)"
    )


def cam_layer_by_name(model: nn.Module, name: str, example: Tensor) -> CamLayer:
    """A :class:`CamLayer` for a module named by the user (``ExplainConfig.layer``); 4-D outputs only.

    Raises:
        MethodUnavailable: no such module, or its output is not a (N, C, h, w) feature map.
    """
    modules = dict(model.named_modules())
    if name not in modules:
        raise MethodUnavailable(f"ExplainConfig.layer: the model has no module named {name!r}")
    shapes: list[tuple[int, ...]] = []
    handle = modules[name].register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    try:
        with borrowed(model), torch.no_grad():
            model(example[:1].detach())
    finally:
        handle.remove()
    if not shapes or len(shapes[-1]) != 4:
        raise MethodUnavailable(f"ExplainConfig.layer: module {name!r} outputs {shapes[-1:]}, not a (N, C, h, w) map")
    shape = shapes[-1]
    return CamLayer(name, "feature-map", (shape[2], shape[3]), shape[1])


def _probe_shapes(model: nn.Module, root: nn.Module, x: Tensor) -> list[_Seen]:
    seen: list[_Seen] = []
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            if isinstance(output, Tensor):
                seen.append(_Seen(len(seen), name, tuple(output.shape)))

        return hook

    try:
        for name, module in root.named_modules():
            if module is not root:
                handles.append(module.register_forward_hook(hook_for(name)))
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


def _last_with_patch_gradient(
    model: nn.Module, root: nn.Module, x: Tensor, candidates: list[_Seen], n_prefix: int
) -> Optional[_Seen]:
    """The last candidate whose patch-token outputs get a non-zero gradient from the logits."""
    wanted = {s.name for s in candidates}
    outputs: dict[str, Tensor] = {}
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
            outputs[name] = output
            return output.clone()  # later in-place ops must not touch the tensor we differentiate against

        return hook

    try:
        for name, module in root.named_modules():
            if name in wanted:
                handles.append(module.register_forward_hook(hook_for(name)))
        with torch.enable_grad():
            logits = model(x.clone().requires_grad_(True))
            names = [n for n in outputs if outputs[n].requires_grad]
            grads = torch.autograd.grad(logits.square().sum(), [outputs[n] for n in names], allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    reached = {n for n, g in zip(names, grads) if g is not None and bool(g[:, n_prefix:].abs().max() > 0)}
    hits = [s for s in candidates if s.name in reached]
    return hits[-1] if hits else None


def _prefix_tokens(root: nn.Module) -> Optional[int]:
    value = getattr(root, "num_prefix_tokens", None)
    return int(value) if isinstance(value, int) else None


def _prefix_or_guess(root: nn.Module, x: Tensor, count: int) -> int:
    known = _prefix_tokens(root)
    if known is not None:
        return known
    for guess in (0, 1):
        if _token_grid(root, x, count, guess) is not None:
            return guess
    return 0


def _token_grid(root: nn.Module, x: Tensor, count: int, n_prefix: Optional[int]) -> Optional[tuple[int, int]]:
    """The (h, w) patch grid if ``count`` tokens are ``n_prefix`` prefix tokens plus one token per patch."""
    patch = getattr(getattr(root, "patch_embed", None), "patch_size", None)
    guesses = (n_prefix,) if n_prefix is not None else (0, 1)
    for p in guesses:
        n = count - p
        if n < 4:
            continue
        if patch is not None:
            ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
            h, w = x.shape[-2] // ph, x.shape[-1] // pw
            if h * w == n:
                return h, w
            continue
        side = math.isqrt(n)
        if side * side == n:
            return side, side
    return None
