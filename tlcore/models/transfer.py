"""TransferModel: a backbone plus a new classification head, frozen and unfrozen by block group."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor, nn

from tlcore.models.factory import Backbone
from tlcore.models.groups import BlockGroup
from tlcore.models.registry import HEADS, TTA_MODES  # noqa: F401  (TTA_MODES: the values of .tta)

log = logging.getLogger(__name__)



class Dropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from NumPy's PCG64 generator: about 5× faster on CPU.

    PyTorch draws a CPU dropout mask element by element from its Mersenne Twister; on a head over cached features
    that draw is the most expensive part of a training step. The generator is seeded from PyTorch's global RNG at the
    first training-mode call, so ``torch.manual_seed`` still makes a run repeatable; eval mode returns the input.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)
        self._rng: np.random.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self._rng is None:
            self._rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
        # 16 random bits per element, four from each raw 64-bit draw; p is resolved to 1/65536
        threshold = min(round(self.p * 65536), 65535)
        n = x.numel()
        bits = self._rng.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n].reshape(tuple(x.shape))
        keep = (bits >= threshold).astype(np.float32)
        keep *= np.float32(65536 / (65536 - threshold))  # kept inputs scaled by 1 / (share kept)
        return x * torch.from_numpy(keep).to(dtype=x.dtype)


def make_head(num_features: int, num_classes: int, head: str = "linear", hidden: int = 256,
              dropout: float = 0.2) -> nn.Sequential:
    """A new classifier: Dropout→Linear, or Dropout→Linear→ReLU→Dropout→Linear for ``head="mlp"``."""
    if head == "linear":
        return nn.Sequential(Dropout(dropout), nn.Linear(num_features, num_classes))
    if head == "mlp":
        return nn.Sequential(Dropout(dropout), nn.Linear(num_features, hidden), nn.ReLU(),
                             Dropout(dropout), nn.Linear(hidden, num_classes))
    raise ValueError(f"Setting 'head' is {head!r}; use one of {', '.join(HEADS)}.")


class TransferModel(nn.Module):
    """``forward(x) = head(backbone(x))``; the last ``n`` block groups (and the head) train, the rest are frozen.

    Frozen parts are also kept in eval mode (BatchNorm statistics, dropout) after ``train()``, so a frozen
    prefix computes exactly what a feature cache computed. A new model starts with everything trainable.
    With ``tta = "hflip"`` (test-time augmentation, set by the auto recipe when it scores better) ``forward`` gives
    the log of the mean of the image's and its mirror image's probabilities, so a softmax of the output is that
    mean and every caller (predict, evaluate, exports) applies it without knowing.
    """

    def __init__(self, backbone: Backbone, num_classes: int, head: str = "linear", hidden: int = 256,
                 dropout: float = 0.2) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"Setting 'num_classes' is {num_classes}; a classifier needs at least 2 classes.")
        self.backbone = backbone.model
        self.head = make_head(backbone.num_features, num_classes, head, hidden, dropout)
        # a plain dataclass attribute (not a submodule): its .model is self.backbone, registered once
        self.backbone_info = backbone
        self.num_classes = num_classes
        self.tta = "none"
        self._n_trainable = len(backbone.groups)
        self._frozen_modules: list[nn.Module] = []
        self.set_trainable(len(backbone.groups))

    @property
    def groups(self) -> list[BlockGroup]:
        """The backbone's block groups, stem first."""
        return self.backbone_info.groups

    @property
    def num_groups(self) -> int:
        return len(self.backbone_info.groups)

    @property
    def frozen_groups(self) -> int:
        """How many block groups (counted from the stem) are frozen."""
        return self.num_groups - self._n_trainable

    @property
    def trainable_groups(self) -> list[BlockGroup]:
        """The block groups that train now (the last ``n``), stem-most first."""
        return self.groups[self.frozen_groups:]

    def forward(self, x: Tensor) -> Tensor:
        logits = self.head(self.backbone(x))
        if self.tta != "hflip":
            return logits
        mirrored = self.head(self.backbone(torch.flip(x, dims=(3,))))
        views = torch.stack([torch.log_softmax(logits, 1), torch.log_softmax(mirrored, 1)])
        return torch.logsumexp(views, 0) - math.log(2.0)

    def set_trainable(self, n_last_groups: int) -> None:
        """Train the head and the last ``n_last_groups`` block groups (0 = head only; clipped to the group count)."""
        n = max(0, min(int(n_last_groups), self.num_groups))
        self._n_trainable = n
        frozen = {p for g in self.groups[: self.num_groups - n] for p in g.param_names}
        for name, param in self.backbone.named_parameters():
            param.requires_grad_(name not in frozen)
        for param in self.head.parameters():
            param.requires_grad_(True)
        self._frozen_modules = self._modules_within(frozen)
        self.train(self.training)  # re-apply eval mode to the newly frozen parts
        log.debug("trainable groups: %d of %d", n, self.num_groups)

    def _modules_within(self, frozen: set[str]) -> list[nn.Module]:
        """Outermost backbone modules whose parameters are all frozen (BatchNorm, blocks, whole stages)."""
        if not frozen:
            return []
        chosen: list[nn.Module] = []
        chosen_prefixes: list[str] = []
        for name, module in self.backbone.named_modules():
            if any(c == "" or name == c or name.startswith(c + ".") for c in chosen_prefixes):
                continue
            names = [f"{name}.{p}" if name else p for p, _ in module.named_parameters()]
            if names and all(p in frozen for p in names):
                chosen.append(module)
                chosen_prefixes.append(name)
        return chosen

    def train(self, mode: bool = True) -> TransferModel:
        """Like ``nn.Module.train`` but frozen block groups stay in eval mode."""
        super().train(mode)
        if mode:
            for module in self._frozen_modules:
                module.eval()
        return self

    def trainable_parameters(self) -> int:
        """Number of parameter values that currently require grad."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
