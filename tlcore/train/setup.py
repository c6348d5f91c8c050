"""What every training-like run starts from: the split, the backbone and a new transfer model, made the same way.

:func:`tlcore.train.loop.train` and :func:`tlcore.train.lr_find.lr_find` both call :func:`new_model`, so a range
test sweeps exactly the model a training with the same settings would start from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tlcore.models.factory import Backbone, create_backbone
from tlcore.train.config import TrainConfig, wants_pretrained

if TYPE_CHECKING:
    from tlcore.data import Dataset, Split
    from tlcore.models.transfer import TransferModel


@dataclass
class ModelSetup:
    """The split a run uses, its backbone and the new model (backbone plus head) in channels-last layout."""

    split: "Split"
    backbone: Backbone
    model: "TransferModel"


def new_model(dataset: "Dataset", config: TrainConfig, split: "Split | None" = None,
              backbone: Backbone | None = None) -> ModelSetup:
    """The split (made from the config's fractions and seed if None), the backbone (created as the strategy needs
    if None) and a new model whose head is seeded with ``config.seed``.

    Raises:
        WeightsUnavailable: if the strategy needs pretrained weights that can't be had.
    """
    import torch

    from tlcore.data import make_split
    from tlcore.models.transfer import TransferModel

    if split is None:
        split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    if backbone is None:
        backbone = create_backbone(config.backbone, pretrained=wants_pretrained(config),
                                   weights_file=config.weights_file)
    strategy = config.strategy
    torch.manual_seed(config.seed)
    model = TransferModel(backbone, len(dataset.classes), head=strategy.head, hidden=strategy.hidden,
                          dropout=strategy.dropout)
    return ModelSetup(split, backbone, model.to(memory_format=torch.channels_last))
