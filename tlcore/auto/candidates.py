"""What the auto recipe can try: one :class:`Candidate` per recipe, in the order it tries them (cheap first).

=========== ============================================================================== =====================
kind        what is fitted on each fold                                                    inputs
=========== ============================================================================== =====================
pixels      logistic regression (L-BFGS, C on a hold-out), 32x32 raw pixels, standardised  the images themselves
probe       the same logistic regression on a backbone's pooled features                   cached features
head        an MLP head with dropout, AdamW, learning rate from a range test               cached features / bank
fine-tune   the last 1 or 2 block groups and the head, learning rate from a range test     cached frozen prefix
scratch     the whole network from a random init                                           images, every epoch
=========== ============================================================================== =====================

Trained kinds (head, fine-tune, scratch) are ordinary :class:`~tlcore.train.config.TrainConfig` trainings
(:func:`train_config`); pixels and probe are scikit-learn fits that become a linear head (:mod:`tlcore.auto.probe`).
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tlcore.auto.config import AutoConfig
from tlcore.data.augment import NO_AUGMENT, AugmentConfig
from tlcore.models.registry import PIXELS_BACKBONE
from tlcore.train.config import TrainConfig
from tlcore.train.strategies import StrategyConfig

AUGMENT_SETTINGS: dict[str, AugmentConfig] = {
    "none": NO_AUGMENT,
    "default": AugmentConfig(),
    "no-flips": replace(AugmentConfig(), hflip=False, vflip=False),
}
AUGMENT_LABELS = {"none": "", "default": " + augmentation", "no-flips": " + augmentation without flips"}
HEAD_HIDDEN, HEAD_DROPOUT = 256, 0.3
# Only the last one or two block groups train, next to the new head: one rate for all of them, found by the range
# test (on the digits demo, the last group at 0.1x the head's rate reaches 96.7% test accuracy, at 1x 98.1%).
FINE_TUNE_RATIO = 1.0


@dataclass(frozen=True)
class Candidate:
    """One recipe the auto recipe can score: its kind, backbone, trainable groups and augmentation."""

    kind: str  # pixels | probe | head | fine-tune | scratch
    backbone: str
    groups: int = 0  # fine-tune: block groups that train
    augment: str = "none"  # none | default | no-flips
    tta: bool = False  # test-time augmentation: predictions averaged over the image and its mirror image

    @property
    def name(self) -> str:
        """A stable id, e.g. ``probe:efficientnet_lite0`` or ``fine-tune-2:efficientnet_lite0+no-flips``."""
        if self.kind == "pixels":
            return "pixels"
        kind = f"fine-tune-{self.groups}" if self.kind == "fine-tune" else self.kind
        return (f"{kind}:{self.backbone}" + ("" if self.augment == "none" else f"+{self.augment}")
                + ("+tta" if self.tta else ""))

    @property
    def label(self) -> str:
        """Words for tables and charts, e.g. ``"linear probe on efficientnet_lite1"``."""
        what = {"pixels": "raw pixels (logistic regression)", "probe": f"linear probe on {self.backbone}",
                "head": f"MLP head on {self.backbone}",
                "fine-tune": f"fine-tune last {self.groups} group{'s' if self.groups != 1 else ''} of "
                             f"{self.backbone}",
                "scratch": f"{self.backbone} from scratch"}[self.kind]
        return what + AUGMENT_LABELS[self.augment] + (" + flip at test time" if self.tta else "")

    @property
    def flips(self) -> bool:
        """Whether it trains with random horizontal flips (then test-time flips are scored too)."""
        return self.trained and AUGMENT_SETTINGS[self.augment].hflip

    @property
    def trained(self) -> bool:
        """Whether it is a training run (head, fine-tune, scratch) rather than a scikit-learn fit."""
        return self.kind in ("head", "fine-tune", "scratch")

    @property
    def cached(self) -> bool:
        """Whether its folds train on cached frozen outputs (everything but scratch)."""
        return self.kind != "scratch"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, label, kind, backbone, groups, augment."""
        return {"name": self.name, "label": self.label, "kind": self.kind, "backbone": self.backbone,
                "groups": self.groups, "augment": self.augment, "tta": self.tta}


def candidate_from_name(name: str) -> Candidate:
    """Inverse of :attr:`Candidate.name` (raises ``ValueError`` for a name it does not make)."""
    if name == "pixels":
        return Candidate("pixels", PIXELS_BACKBONE)
    head, _, backbone = name.partition(":")
    tta = backbone.endswith("+tta")
    backbone, _, augment = backbone.removesuffix("+tta").partition("+")
    augment = augment or "none"
    kind, groups = head, 0
    if head.startswith("fine-tune-") and head[len("fine-tune-"):].isdigit():
        kind, groups = "fine-tune", int(head[len("fine-tune-"):])
    if kind not in ("probe", "head", "fine-tune", "scratch") or not backbone or augment not in AUGMENT_SETTINGS:
        raise ValueError(f"{name!r} is not an auto-recipe candidate")
    candidate = Candidate(kind, backbone, groups, augment, tta)
    if candidate.name != name or (tta and not candidate.flips):
        raise ValueError(f"{name!r} is not an auto-recipe candidate")
    return candidate


def candidates(config: TrainConfig, auto: AutoConfig) -> list[Candidate]:
    """Every candidate ``auto`` allows, in the order they are tried: the cheap, usually strong ones first.

    Head, fine-tuning and scratch use the training config's backbone; probes use it and then ``auto.backbones``.
    """
    primary = config.backbone
    probe_backbones = list(dict.fromkeys([primary, *auto.backbones]))
    augs = [a for a in auto.augments if a != "none"]
    plain = "none" in auto.augments
    out: list[Candidate] = [Candidate("pixels", PIXELS_BACKBONE), Candidate("probe", primary)]
    if plain:
        out += [Candidate("head", primary), Candidate("fine-tune", primary, 1), Candidate("fine-tune", primary, 2)]
    out += [Candidate("probe", b) for b in probe_backbones[1:]]
    out += [Candidate("head", primary, augment=a) for a in augs]
    out += [Candidate("fine-tune", primary, 1, augment=a) for a in augs]
    out += [Candidate("fine-tune", primary, 2, augment=a) for a in augs]
    out += [Candidate("scratch", primary, augment=a) for a in (["none"] if plain else []) + augs]
    out = [c for c in out if c.kind in auto.kinds]
    if auto.only:
        out = [c for c in out if c.name == auto.only] or [candidate_from_name(auto.only)]
    return out


def train_config(candidate: Candidate, base: TrainConfig, auto: AutoConfig, head_lr: float | None = None
                 ) -> TrainConfig:
    """The training settings of a trained candidate (head, fine-tune, scratch) on top of ``base``.

    Its learning rate is ``head_lr`` (the range test's suggestion) when given, else the base config's.
    """
    if not candidate.trained:
        raise ValueError(f"candidate {candidate.name} is not a training")
    s = base.strategy
    lr = head_lr if head_lr is not None else s.head_lr
    if candidate.kind == "head":
        strategy = StrategyConfig("feature-extraction", head_lr=lr, head="mlp", hidden=HEAD_HIDDEN,
                                  dropout=HEAD_DROPOUT)
    elif candidate.kind == "fine-tune":
        strategy = StrategyConfig("fine-tune", fine_tune_groups=candidate.groups, head_lr=lr,
                                  backbone_lr_ratio=FINE_TUNE_RATIO, dropout=s.dropout)
    else:
        strategy = StrategyConfig("scratch", head_lr=lr, dropout=s.dropout)
    return replace(base, backbone=candidate.backbone, strategy=strategy, epochs=auto.max_epochs,
                   augment=AUGMENT_SETTINGS[candidate.augment], aug_views=auto.aug_views,
                   weights_file=base.weights_file if candidate.backbone == base.backbone else None)
