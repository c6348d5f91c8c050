"""Model-randomisation sanity check (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

A map that explains the model must change when the model is destroyed. On a deep copy of the model
(the caller's model is never touched) the parameterised layers are re-initialised cumulatively from the
top (the output layer) down to the input, in a few steps; after each step the maps are recomputed and
compared with the original ones by Spearman rank correlation of their absolute values. If the maps of the
fully randomised model still correlate with the originals at ``threshold`` or more, the method is flagged:
it shows the image, not the model (an edge detector would score 1.0).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torch import Tensor, nn

from tlcore.events import CancelToken, EventCallback, ProgressTimer, ignore_event
from tlcore.explain.api import explain
from tlcore.explain.config import ExplainConfig
from tlcore.explain.errors import ExplainError
from tlcore.explain.guard import borrowed
from tlcore.explain.methods import METHODS

log = logging.getLogger(__name__)

# Computes maps (N, H, W) for a model; the default wraps explain() with the given config.
AttributeFn = Callable[[nn.Module, Tensor, Sequence[int]], np.ndarray]

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class SanityStep:
    """Maps after randomising the top layers down to (and including) ``label``."""

    label: str  # name of the deepest layer randomised so far
    layers: int  # parameterised layers randomised so far (cumulative)
    correlation: float  # mean over images of the rank correlation with the original |map|
    per_image: tuple[float, ...]


@dataclass(frozen=True)
class SanityResult:
    """Rank correlations per randomisation step and the verdict."""

    method: str
    steps: tuple[SanityStep, ...]
    threshold: float
    passed: bool  # fully randomised maps correlate below ``threshold`` with the originals
    per_image_passed: tuple[bool, ...]
    verdict: str  # plain words for the page and the report

    @property
    def final_correlation(self) -> float:
        """Rank correlation after randomising every layer."""
        return self.steps[-1].correlation


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps' absolute values; 0.0 if either map is constant."""
    x = rankdata(np.abs(np.nan_to_num(np.asarray(a, dtype=np.float64))).ravel())
    y = rankdata(np.abs(np.nan_to_num(np.asarray(b, dtype=np.float64))).ravel())
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def layers_top_down(model: nn.Module, example: Tensor) -> list[tuple[str, nn.Module]]:
    """Modules owning parameters, in reverse order of first use in a forward pass on ``example``."""
    order: list[str] = []
    owners = {name: m for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))}
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple) -> None:
            if name not in order:
                order.append(name)

        return hook

    try:
        for name, module in owners.items():
            handles.append(module.register_forward_pre_hook(hook_for(name)))
        with borrowed(model), torch.no_grad():
            model(example[:1])
    finally:
        for h in handles:
            h.remove()
    return [(name, owners[name]) for name in reversed(order)]


def randomize_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise ``module``'s own parameters in place (its ``reset_parameters`` if it has one)."""
    if hasattr(module, "reset_parameters"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            module.reset_parameters()
        return
    with torch.no_grad():
        for p in module.parameters(recurse=False):
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)


def sanity_check(
    model: nn.Module,
    inputs: Tensor,
    targets: Sequence[int],
    config: ExplainConfig,
    seed: int = 0,
    *,
    max_steps: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
    baseline: Optional[Tensor] = None,
    attribute: Optional[AttributeFn] = None,
    label: Optional[str] = None,
    on_event: EventCallback = ignore_event,
    cancel: Optional[CancelToken] = None,
) -> SanityResult:
    """Cascading model-randomisation check of ``config.method`` on ``inputs``.

    Args:
        model: normalised images -> logits; not modified (a deep copy is randomised).
        inputs: (N, 3, H, W) normalised images; targets: one class per image.
        config: the method to check.
        seed: seeds the re-initialisation.
        max_steps: randomisation steps: the output layer alone, then the rest in ``max_steps - 1`` chunks.
        threshold: rank correlation at or above which the method is flagged.
        baseline: passed to :func:`~tlcore.explain.api.explain`.
        attribute: compute maps another way (tests use a model-blind edge detector); default ``explain``.
        label: the method's name in the verdict (default: the label of ``config.method``).

    Raises:
        ExplainError: the model has no parameters to randomise.
    """
    method = config.method if attribute is None else (label or "custom")
    label = label or METHODS[config.method].label
    if attribute is None:
        def attribute(m: nn.Module, x: Tensor, t: Sequence[int]) -> np.ndarray:
            return np.stack([a.map for a in explain(m, x, t, config, baseline=baseline)])
    targets = list(targets)
    original = attribute(model, inputs, targets)
    victim = copy.deepcopy(model)
    layers = layers_top_down(victim, inputs)
    if not layers:
        raise ExplainError(f"sanity check: {type(model).__name__} has no parameters to randomise")
    chunks = _cascade(len(layers), max_steps)
    generator = torch.Generator().manual_seed(seed)
    timer = ProgressTimer("sanity check", len(chunks), on_event)
    steps: list[SanityStep] = []
    done = 0
    for i, size in enumerate(chunks):
        if cancel is not None:
            cancel.raise_if_cancelled()
        for _, module in layers[done : done + size]:
            randomize_(module, generator)
        done += size
        maps = attribute(victim, inputs, targets)
        per_image = tuple(rank_correlation(a, b) for a, b in zip(original, maps))
        steps.append(SanityStep(layers[done - 1][0], done, float(np.mean(per_image)), per_image))
        timer.update(i + 1, force=True)
    final = steps[-1]
    passed = final.correlation < threshold
    return SanityResult(
        method=method,
        steps=tuple(steps),
        threshold=threshold,
        passed=passed,
        per_image_passed=tuple(c < threshold for c in final.per_image),
        verdict=_verdict(label, steps, threshold, passed),
    )


def _cascade(n_layers: int, max_steps: int) -> list[int]:
    """How many layers each step randomises: the top one alone, then the rest in near-equal chunks."""
    rest = n_layers - 1
    if rest == 0:
        return [1]
    return [1] + [len(c) for c in np.array_split(np.arange(rest), min(max(max_steps - 1, 1), rest))]


def _verdict(label: str, steps: list[SanityStep], threshold: float, passed: bool) -> str:
    first, final = steps[0], steps[-1]
    if passed:
        return (
            f"{label} passes: its maps change when the model is destroyed (rank correlation with the original "
            f"map {final.correlation:.2f} after randomising all {final.layers} layers; "
            f"{first.correlation:.2f} after the output layer alone). The maps depend on what the model learned."
        )
    return (
        f"{label} fails: its maps hardly change when the model's weights are randomised (rank correlation "
        f"{final.correlation:.2f} after randomising all {final.layers} layers, threshold {threshold:.2f}). They "
        "show the image's structure rather than what the model learned; do not read them as an explanation."
    )
