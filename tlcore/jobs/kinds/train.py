"""The job kind ``train``: train on an imported dataset and record the run (its builder is :class:`TrainJob`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tlcore.events import CancelToken, EventCallback
from tlcore.jobs.params import JobParams, config_params, text, train_config
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig


@dataclass(frozen=True)
class TrainJob(JobParams):
    """Parameters of a ``train`` job.

    Attributes:
        dataset_id: the imported dataset to train on.
        config: every training setting.
        label: the label of the recorded run ("" for none).
    """

    kind: ClassVar[str] = "train"

    dataset_id: str
    config: TrainConfig
    label: str = ""

    def to_params(self) -> dict[str, Any]:
        """``{"dataset_id", "config"}`` plus ``label`` when given."""
        params: dict[str, Any] = {"dataset_id": self.dataset_id, "config": config_params(self.config)}
        if self.label:
            params["label"] = self.label
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainJob:
        """The checked parameters of a ``train`` params dict."""
        dataset_id = text(params, "dataset_id", "train", must="must name an imported dataset")
        return cls(dataset_id, train_config(params, "train"), str(params.get("label", "")))


def train_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Train on an imported dataset and record the run.

    Params: see :class:`TrainJob`. Returns the run id and its headline numbers.
    """
    from tlcore.data.dataset import load_dataset
    from tlcore.runs.store import save_run
    from tlcore.train.loop import train

    job = TrainJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = train(ws, dataset, job.config, on_event=on_event, cancel=cancel)
    run_id = save_run(ws, result, dataset, label=job.label)
    return {"run_id": run_id, "test_accuracy": result.test_metrics.get("accuracy"),
            "test_macro_f1": result.test_metrics.get("macro_f1"), "cache_mode": result.cache_mode,
            "seconds": result.timings["total"], "epochs": len(result.history)}


TRAIN = register_kind(JobKind("train", train_task, TrainJob))
