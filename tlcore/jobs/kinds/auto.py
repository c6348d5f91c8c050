"""The job kind ``auto``: the auto recipe on an imported dataset, its winner recorded as a run (builder
:class:`AutoJob`). Progress includes :class:`~tlcore.events.Leaderboard` events, so a page shows the leaderboard
filling live; cancelling stops it between steps and records nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tlcore.auto.config import AutoConfig, auto_from_dict, auto_to_dict
from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.jobs.params import JobParams, config_params, text, train_config
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig


@dataclass(frozen=True)
class AutoJob(JobParams):
    """Parameters of an ``auto`` job.

    Attributes:
        dataset_id: the imported dataset.
        config: the shared training settings (seed, test fraction, batch size, backbone, ...).
        auto: what the auto recipe may try and its time budget.
        label: the label of the recorded run ("" for none).
    """

    kind: ClassVar[str] = "auto"

    dataset_id: str
    config: "TrainConfig"
    auto: AutoConfig = field(default_factory=AutoConfig)
    label: str = ""

    def to_params(self) -> dict[str, Any]:
        """``{"dataset_id", "config", "auto"}`` plus ``label`` when given."""
        params: dict[str, Any] = {"dataset_id": self.dataset_id, "config": config_params(self.config),
                                  "auto": auto_to_dict(self.auto)}
        if self.label:
            params["label"] = self.label
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AutoJob:
        """The checked parameters of an ``auto`` params dict."""
        dataset_id = text(params, "dataset_id", "auto", must="must name an imported dataset")
        raw = params.get("auto") or {}
        if not isinstance(raw, dict):
            raise TlcoreError(f"auto: setting 'auto' must be a dict of auto-recipe settings, got {raw!r}")
        try:
            auto = auto_from_dict(raw)
        except (TypeError, ValueError, TlcoreError) as e:
            raise TlcoreError(f"auto: setting 'auto' is invalid: {e}") from e
        return cls(dataset_id, train_config(params, "auto"), auto, str(params.get("label", "")))


def auto_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Run the auto recipe on an imported dataset and record the winner.

    Params: see :class:`AutoJob`. Returns the run id, the winner, the reason and the headline numbers.
    """
    from tlcore.auto.runner import run_auto
    from tlcore.data.dataset import load_dataset
    from tlcore.runs.store import save_run

    job = AutoJob.from_params(params)
    dataset = load_dataset(ws, job.dataset_id)
    result = run_auto(ws, dataset, job.config, job.auto, on_event=on_event, cancel=cancel)
    run_id = save_run(ws, result.train, dataset, label=job.label, extra={"strategy": "auto", "auto": result.record()})
    return {"run_id": run_id, "winner": result.winner, "reason": result.reason,
            "test_accuracy": result.train.test_metrics.get("accuracy"),
            "test_macro_f1": result.train.test_metrics.get("macro_f1"), "seconds": result.seconds}


AUTO_KIND = register_kind(JobKind("auto", auto_task, AutoJob))
