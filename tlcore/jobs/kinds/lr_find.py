"""The job kind ``lr-find``: the learning-rate range test on an imported dataset (its builder is
:class:`LRFindJob`); the result is the curve and the suggested head learning rate
(:meth:`tlcore.train.lr_find.LRFindResult.to_dict`). Nothing is recorded in the run store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.jobs.params import JobParams, check_keys, config_params, number, text, train_config, whole_number
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.train.lr_find import LR_FIND_LIMITS, LRFindSettings
from tlcore.train.strategies import SettingError
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig

_KEYS = ("dataset_id", "config", "start_lr", "end_lr", "num_it")


@dataclass(frozen=True)
class LRFindJob(JobParams):
    """Parameters of an ``lr-find`` job.

    Attributes:
        dataset_id: the imported dataset whose training part the sweep trains on.
        config: the training settings (strategy, backbone, batch size, ...); the swept rate is the head's.
        settings: the sweep's start and end rates and its number of steps.
    """

    kind: ClassVar[str] = "lr-find"

    dataset_id: str
    config: TrainConfig
    settings: LRFindSettings = field(default_factory=LRFindSettings)

    def to_params(self) -> dict[str, Any]:
        """``{"dataset_id", "config", "start_lr", "end_lr", "num_it"}``."""
        s = self.settings
        return {"dataset_id": self.dataset_id, "config": config_params(self.config), "start_lr": s.start_lr,
                "end_lr": s.end_lr, "num_it": s.num_it}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LRFindJob:
        """The checked parameters of an ``lr-find`` params dict (absent sweep settings take fastai's defaults)."""
        who, d, lim = cls.kind, LRFindSettings(), LR_FIND_LIMITS
        check_keys(params, _KEYS, who)
        dataset_id = text(params, "dataset_id", who, must="must name an imported dataset")
        start = number(params, "start_lr", d.start_lr, 0.0, float(lim["start_lr"].high or 10), who)
        end = number(params, "end_lr", d.end_lr, 0.0, float(lim["end_lr"].high or 1000), who)
        steps = whole_number(params, "num_it", d.num_it, int(lim["num_it"].low or 6), int(lim["num_it"].high or 1000),
                             who)
        try:
            settings = LRFindSettings(start_lr=start, end_lr=end, num_it=steps)
        except SettingError as e:
            raise TlcoreError(f"{who}: {e}") from e
        return cls(dataset_id, train_config(params, who), settings)


def lr_find_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Run the range test.

    Params: see :class:`LRFindJob`. Returns :meth:`~tlcore.train.lr_find.LRFindResult.to_dict` plus the dataset id.
    """
    from tlcore.data.dataset import load_dataset
    from tlcore.train.lr_find import lr_find

    job = LRFindJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = lr_find(ws, dataset, job.config, settings=job.settings, on_event=on_event, cancel=cancel)
    return {"dataset_id": dataset.id, **result.to_dict()}


LR_FIND = register_kind(JobKind("lr-find", lr_find_task, LRFindJob))
