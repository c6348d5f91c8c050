"""Borrowing a model for attribution and giving it back exactly as it was.

:func:`borrowed` puts the model in eval mode, stops parameter gradients (attributions need input
gradients only) and switches test-time augmentation off (a map explains the image as the network sees it, one
view), then restores every module's train/eval flag and every parameter's ``requires_grad``
and removes any hook added while borrowed — also when the method raised half-way.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from torch import nn

log = logging.getLogger(__name__)

# Per-module hook dictionaries (torch 2.x). Keys are hook ids; the "with kwargs"/"always called" dicts
# mirror ids of hooks in the first ones.
HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


def hook_count(model: nn.Module) -> int:
    """Number of module hooks registered on ``model`` and all its submodules."""
    return sum(len(getattr(m, d, {})) for m in model.modules() for d in HOOK_DICTS[:4])


def _hook_keys(model: nn.Module) -> list[tuple[nn.Module, str, set]]:
    return [(m, d, set(getattr(m, d).keys())) for m in model.modules() for d in HOOK_DICTS if hasattr(m, d)]


@contextmanager
def borrowed(model: nn.Module) -> Iterator[nn.Module]:
    """Use ``model`` in eval mode without parameter gradients; restore it fully on exit.

    Not safe for two threads on the same model object at once (flags and hooks are per object): a page
    that shares a cached model between sessions should explain a copy.
    """
    tta = getattr(model, "tta", None)
    if tta is not None:  # a map explains one view of the image: test-time augmentation is off while borrowed
        model.tta = "none"
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    full_backward = [(m, m._is_full_backward_hook) for m in model.modules()]
    before = _hook_keys(model)
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        removed = 0
        for m, d, keys in before:
            hooks = getattr(m, d)
            for key in [k for k in hooks if k not in keys]:
                del hooks[key]
                removed += 1
        if removed:
            log.warning("removed %d hook(s) left on the model by an attribution method", removed)
        for m, flag in full_backward:
            m._is_full_backward_hook = flag
        for m, training in modes:
            m.training = training
        for p, requires_grad in flags:
            p.requires_grad_(requires_grad)
        if tta is not None:
            model.tta = tta
