"""Faithfulness of one map: deletion and insertion curves (Petsiuk et al., RISE, 2018).

Deletion: pixels are replaced by the baseline (default: the normalised mean colour) in order of
attribution, most attributed first, and the target class's probability is tracked; a faithful map makes it
fall fast (small area under the curve). The same is done in a random pixel order for comparison.
Insertion: starting from a blurred copy of the image, the original pixels come back in the same order; a
faithful map makes the probability rise fast (large area).

``score`` = random deletion AUC - deletion AUC: how much faster the map's pixels destroy the prediction
than random pixels do (in probability x fraction units; > 0 is better than random).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tlcore.explain.errors import ExplainError
from tlcore.explain.guard import borrowed
from tlcore.explain.overlay import resize_map

log = logging.getLogger(__name__)

CLEAR_MARGIN = 0.05  # score above which the map is called clearly better than random


@dataclass(frozen=True)
class Faithfulness:
    """Deletion/insertion curves of one map and their areas; fractions run 0 -> 1 in ``steps`` steps."""

    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    score: float  # random_deletion_auc - deletion_auc
    verdict: str  # plain words
    fractions: tuple[float, ...]
    deletion: tuple[float, ...]  # target probability after removing each fraction of pixels
    insertion: tuple[float, ...]
    random_deletion: tuple[float, ...]


def faithfulness(
    model: nn.Module,
    inputs: Tensor,
    target: int,
    amap: np.ndarray,
    steps: int = 20,
    seed: int = 0,
    baseline: Optional[Tensor] = None,
    batch_size: int = 16,
) -> Faithfulness:
    """Deletion/insertion scores of ``amap`` for one normalised image (3, H, W) or (1, 3, H, W).

    Pixels are ranked by the signed map (ties broken at random with ``seed``); the map is resized to the
    image if needed. Costs ``3 * (steps + 1)`` forward passes.
    """
    x = inputs.detach().float()
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ExplainError(f"faithfulness: needs one image (1, 3, H, W), got {tuple(inputs.shape)}")
    if not 1 <= steps <= 200:
        raise ExplainError(f"faithfulness: steps must be from 1 to 200, got {steps}")
    h, w = x.shape[-2:]
    scores = np.nan_to_num(resize_map(amap, (h, w)).astype(np.float64), nan=-np.inf).ravel()
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(scores.size), -scores))  # most attributed first
    random_order = rng.permutation(scores.size)
    base = torch.zeros_like(x) if baseline is None else baseline.detach().float().reshape(x.shape)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    with borrowed(model):
        deletion = _curve(model, x, base, order, fractions, target, batch_size)
        random_deletion = _curve(model, x, base, random_order, fractions, target, batch_size)
        insertion = _curve(model, _blur(x), x, order, fractions, target, batch_size)
    del_auc, ins_auc, rnd_auc = (float(np.trapezoid(c, fractions)) for c in (deletion, insertion, random_deletion))
    score = rnd_auc - del_auc
    return Faithfulness(
        deletion_auc=del_auc,
        insertion_auc=ins_auc,
        random_deletion_auc=rnd_auc,
        score=score,
        verdict=_verdict(score, del_auc, rnd_auc),
        fractions=tuple(float(f) for f in fractions),
        deletion=tuple(float(v) for v in deletion),
        insertion=tuple(float(v) for v in insertion),
        random_deletion=tuple(float(v) for v in random_deletion),
    )


@torch.no_grad()
def _curve(
    model: nn.Module, start: Tensor, end: Tensor, order: np.ndarray, fractions: np.ndarray, target: int, batch: int
) -> np.ndarray:
    """Target probability as pixels switch from ``start`` to ``end`` in ``order``, one image per fraction."""
    h, w = start.shape[-2:]
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    rank_t = torch.from_numpy(rank).reshape(1, 1, h, w)
    counts = np.round(fractions * order.size).astype(np.int64)
    probs: list[Tensor] = []
    for i in range(0, len(counts), batch):
        n = torch.from_numpy(counts[i : i + batch]).reshape(-1, 1, 1, 1)
        switched = rank_t < n  # (b, 1, H, W)
        images = torch.where(switched, end, start)
        probs.append(torch.softmax(model(images).float(), dim=1)[:, target])
    return torch.cat(probs).numpy()


def _blur(x: Tensor, factor: int = 16) -> Tensor:
    """A heavily blurred copy: downscale by ``factor`` with averaging, upscale bilinearly."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, h // factor), max(1, w // factor)), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def _verdict(score: float, del_auc: float, rnd_auc: float) -> str:
    if score > CLEAR_MARGIN:
        return (
            f"Faithful: removing the most highlighted pixels first destroys the prediction much faster than "
            f"removing random pixels (area under the curve {del_auc:.2f} vs {rnd_auc:.2f})."
        )
    if score > 0:
        return (
            f"Weakly faithful: removing the highlighted pixels first hurts the prediction only a little more "
            f"than removing random pixels ({del_auc:.2f} vs {rnd_auc:.2f})."
        )
    return (
        f"Not faithful: removing the highlighted pixels first hurts the prediction no more than removing random "
        f"pixels ({del_auc:.2f} vs {rnd_auc:.2f}); the map does not show what the model relies on."
    )
