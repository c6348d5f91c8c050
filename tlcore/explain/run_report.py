"""The review report of a saved run: gather its record, test results and attribution maps into
:class:`~tlcore.explain.report.ReportData`, then render it with :mod:`tlcore.explain.report`."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.explain.checks.sanity import sanity_check
from tlcore.explain.config import ExplainConfig
from tlcore.explain.errors import ExplainError
from tlcore.explain.methods import METHODS
from tlcore.explain.overlay import overlay
from tlcore.explain.report import GalleryItem, ReportData, write_report
from tlcore.explain.report_auto import AutoSummary, auto_summary
from tlcore.explain.run_images import (
    RunExplanation,
    TestPick,
    as_loaded_run,
    explain_test_images,
    model_inputs,
    pick_test_images,
)
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.runs.store import LoadedRun

log = logging.getLogger(__name__)

DEFAULT_METHODS = ("gradcam", "integrated-gradients")
METRIC_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
                 "log_loss": "log loss", "n": "test images"}


def build_run_report(
    ws: Workspace,
    run: Union["LoadedRun", str],
    methods: Sequence[str] = DEFAULT_METHODS,
    per_group: int = 4,
    sanity_images: int = 4,
    sign: str = "positive",
    opacity: float = 0.5,
    on_event: EventCallback = ignore_event,
    cancel: Optional[CancelToken] = None,
) -> ReportData:
    """Everything the review report shows for ``run``.

    Args:
        methods: attribution methods for the gallery and the sanity check.
        per_group: images in each gallery (correct, wrong); the most confident first, classes interleaved.
        sanity_images: how many of the gallery images (mistakes first) the sanity check uses.

    Raises:
        ExplainError: unknown method or too few settings; DatasetError if the run's dataset is gone.
    """
    from tlcore.data import load_dataset

    run = as_loaded_run(ws, run)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ExplainError(f"report: unknown method {bad[0] if bad else '(none)'!r}; choose from {tuple(METHODS)}")
    dataset = load_dataset(ws, run.dataset_id)
    correct = pick_test_images(run, dataset, "correct", limit=per_group)
    wrong = pick_test_images(run, dataset, "confident-mistakes", limit=per_group)
    picks = wrong + correct
    methods, notes = _usable_methods(ws, run, picks, methods)
    gallery: Optional[RunExplanation] = None
    if picks and methods:
        gallery = explain_test_images(ws, run, picks, methods, on_event=on_event, cancel=cancel)
    sanity = []
    if picks and sanity_images > 0:
        from tlcore.data import load_image

        chosen = picks[:sanity_images]
        x, _ = model_inputs(run, [load_image(ws, p.hash) for p in chosen])
        model = copy.deepcopy(run.model).eval()
        targets = [p.predicted for p in chosen]
        for method in methods:
            sanity.append(sanity_check(model, x, targets, ExplainConfig(method), on_event=on_event, cancel=cancel))
    if gallery is not None:
        items = [_item(im, run.classes, sign, opacity) for im in gallery.images]
    else:
        items = _plain_items(ws, run, picks)
    record = run.record
    metrics = record.get("test_metrics") or {}
    auto = auto_summary(record["auto"]) if record.get("auto") is not None else None
    return ReportData(
        title=f"Review of run {run.id}",
        summary=_summary(record, run, auto),
        dataset=_dataset_facts(dataset, run),
        metrics={label: metrics[key] for key, label in METRIC_LABELS.items() if key in metrics},
        classes=tuple(run.classes),
        confusion=np.asarray(metrics.get("confusion", []), dtype=np.int64),
        correct=tuple(items[len(wrong):]),
        wrong=tuple(items[: len(wrong)]),
        sanity=tuple(sanity),
        generated=time.strftime("%Y-%m-%d %H:%M"),
        notes=tuple(notes),
        auto=auto,
    )


def write_run_report(ws: Workspace, run: Union["LoadedRun", str], path: str | Path, **kwargs: Any) -> Path:
    """Build the review report of ``run`` and write it to ``path`` as one HTML file."""
    return write_report(path, build_run_report(ws, run, **kwargs))


def _usable_methods(ws: Workspace, run: "LoadedRun", picks: Sequence[TestPick], methods: Sequence[str]
                    ) -> tuple[tuple[str, ...], list[str]]:
    """The methods that can run on the run's model, and a note for each that cannot (say Grad-CAM on the raw-pixel
    model an auto run may choose, which has no feature map), so the report leaves it out instead of failing."""
    if not picks:
        return tuple(methods), []
    from tlcore.data import load_image
    from tlcore.explain.api import method_availability

    x, _ = model_inputs(run, [load_image(ws, picks[0].hash)])
    reasons = method_availability(run.model, x)
    notes = [f"{METHODS[m].label} is left out of this report, as it cannot run on this model: {reasons[m]}."
             for m in methods if reasons.get(m)]
    return tuple(m for m in methods if not reasons.get(m)), notes


def _plain_items(ws: Workspace, run: "LoadedRun", picks: Sequence[TestPick]) -> list[GalleryItem]:
    """Gallery items without maps (no method can run on this model): the pictures and the recorded predictions."""
    if not picks:
        return []
    from tlcore.data import load_image

    _, pictures = model_inputs(run, [load_image(ws, p.hash) for p in picks])
    return [GalleryItem(pic, run.classes[p.true_label], run.classes[p.predicted], p.probability, {}, p.name)
            for p, pic in zip(picks, pictures)]


def _item(im, classes: Sequence[str], sign: str, opacity: float) -> GalleryItem:
    overlays = {METHODS[m].label: overlay(im.image, a.map, sign=sign, opacity=opacity) for m, a in im.maps.items()}
    true = classes[im.true_label] if im.true_label is not None else "?"
    return GalleryItem(im.image, true, classes[im.predicted], float(im.probs[im.predicted]), overlays, im.name)


def _summary(record: dict[str, Any], run: "LoadedRun", auto: AutoSummary | None = None) -> dict[str, Any]:
    created = record.get("created")
    timings = record.get("timings") or {}
    facts = {
        "run": run.id,
        "label": record.get("label") or "—",
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "—",
        "backbone": record.get("backbone", "—"),
        "weights": record.get("weights_source", "—"),
        "strategy": record.get("strategy", "—"),
        "epochs trained": len(record.get("history") or []),
        "image size": f"{run.image_size} px",
        "augmentation": record.get("augmentation", "—"),
    }
    if auto is not None:
        winner = next((r for r in auto.rows if r.winner), None)
        facts["chosen recipe"] = winner.label if winner else "—"
    total = timings.get("total") if isinstance(timings, dict) else None
    if isinstance(total, (int, float)):
        facts["training time" if auto is None else "refit and test time"] = f"{total:.1f} s"
    if auto is not None and auto.seconds is not None:
        facts["auto recipe time (selection, refit, test)"] = f"{auto.seconds:.1f} s"
    return facts


def _dataset_facts(dataset, run: "LoadedRun") -> dict[str, Any]:
    return {
        "name": dataset.name,
        "id": dataset.id,
        "images": len(dataset.records),
        "classes": len(dataset.classes),
        "images per class": dataset.class_counts(),
        "split (images)": {
            "train": len(run.split.train),
            "validation": len(run.split.val),
            "test": len(run.split.test),
        },
    }
