"""The job kinds for explanations (builders :class:`ExplainJob` and :class:`ReportJob`):

* ``explain``: maps for a batch of images of a saved run, optionally with the trust checks; the result is
  saved under ``ws.cache/explain/<folder>`` (see :mod:`tlcore.explain.archive`) and the job result names that folder.
* ``explain-report``: the review report of a run as one HTML file under ``ws.cache/reports``.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.jobs.params import JobParams, text, whole_number
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

WHO = "explain job"  # how the messages name these kinds
MAX_IMAGES = 64  # per explain job
SETTINGS = ("steps", "samples", "stdev", "window", "stride", "internal_batch_size", "max_side", "smooth_base", "seed")


@dataclass(frozen=True)
class ExplainJob(JobParams):
    """Parameters of an ``explain`` job: either ``hashes`` or ``files``, at most :data:`MAX_IMAGES` images.

    Attributes:
        run_id: the saved run whose model is explained.
        methods: attribution method names.
        hashes: stored images of the run's dataset (true classes known).
        files: image paths inside the workspace (e.g. spooled uploads).
        names: display names of ``files`` (default: their file names).
        target: what the maps explain: "predicted", "true", a class index or a class name.
        settings: :class:`~tlcore.explain.config.ExplainConfig` fields (only those in :data:`SETTINGS`).
        sanity: run the randomised-weights sanity check.
        faithfulness: run the deletion (faithfulness) check.
    """

    kind: ClassVar[str] = "explain"

    run_id: str
    methods: tuple[str, ...]
    hashes: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    target: str | int = "predicted"
    settings: dict[str, Any] = field(default_factory=dict)
    sanity: bool = False
    faithfulness: bool = False

    def to_params(self) -> dict[str, Any]:
        """``{"run_id", "methods", "target", "sanity", "faithfulness"}`` plus the images and ``settings``."""
        params: dict[str, Any] = {"run_id": self.run_id, "methods": list(self.methods), "target": self.target,
                                  "sanity": self.sanity, "faithfulness": self.faithfulness}
        if self.hashes:
            params["hashes"] = list(self.hashes)
        if self.files:
            params["files"] = list(self.files)
        if self.names:
            params["names"] = list(self.names)
        if self.settings:
            params["settings"] = dict(self.settings)
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExplainJob:
        """The checked parameters of an ``explain`` params dict (the images are checked against the run later)."""
        run_id = text(params, "run_id", WHO)
        methods = params.get("methods")
        if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
            raise TlcoreError(f"{WHO}: setting 'methods' must be a non-empty list of method names")
        settings = params.get("settings") or {}
        if not isinstance(settings, dict) or any(k not in SETTINGS for k in settings):
            raise TlcoreError(f"{WHO}: setting 'settings' may only hold {', '.join(SETTINGS)}")
        hashes, files = params.get("hashes"), params.get("files")
        if bool(hashes) == bool(files):
            raise TlcoreError(f"{WHO}: give either 'hashes' (stored images) or 'files' (image paths), not both")
        count = len(hashes or files)
        if count > MAX_IMAGES:
            raise TlcoreError(f"{WHO}: {count} images; at most {MAX_IMAGES} per job")
        return cls(run_id, tuple(methods), hashes=tuple(hashes or ()), files=tuple(files or ()),
                   names=tuple(params.get("names") or ()), target=params.get("target", "predicted"),
                   settings=settings, sanity=bool(params.get("sanity")),
                   faithfulness=bool(params.get("faithfulness")))


@dataclass(frozen=True)
class ReportJob(JobParams):
    """Parameters of an ``explain-report`` job.

    Attributes:
        run_id: the saved run to report on.
        methods: the attribution methods of the gallery; empty for the report's default ones.
        per_group: images per gallery group (0 to 24); None for the default (4).
        sanity_images: images of the sanity check (0 to 16); None for the default (4).
    """

    kind: ClassVar[str] = "explain-report"

    run_id: str
    methods: tuple[str, ...] = ()
    per_group: int | None = None
    sanity_images: int | None = None

    def to_params(self) -> dict[str, Any]:
        """``{"run_id"}`` plus each setting that was given."""
        params: dict[str, Any] = {"run_id": self.run_id}
        if self.methods:
            params["methods"] = list(self.methods)
        if self.per_group is not None:
            params["per_group"] = self.per_group
        if self.sanity_images is not None:
            params["sanity_images"] = self.sanity_images
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ReportJob:
        """The checked parameters of an ``explain-report`` params dict (defaults filled in, methods excepted)."""
        run_id, methods = text(params, "run_id", WHO), tuple(params.get("methods") or ())
        return cls(run_id, methods, whole_number(params, "per_group", 4, 0, 24, WHO),
                   whole_number(params, "sanity_images", 4, 0, 16, WHO))


def explain_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Explain images of a run (params: see :class:`ExplainJob`); the maps are saved in the workspace.

    Returns the run id, the folder of the saved explanation (relative to the workspace), the image count, the
    methods and whether each method passed the sanity check.
    """
    from tlcore.data.dataset import load_dataset, load_image
    from tlcore.explain.archive import save_explanation
    from tlcore.explain.run_images import explain_run
    from tlcore.runs.store import load_run

    job = ExplainJob.from_params(params)
    options = dict(target=job.target, settings=job.settings, sanity=job.sanity, check_faithfulness=job.faithfulness,
                   on_event=on_event, cancel=cancel)
    run = load_run(ws, job.run_id)
    if job.hashes:
        dataset = load_dataset(ws, run.dataset_id)
        by_hash = {r.hash: r for r in dataset.records}
        missing = [h for h in job.hashes if h not in by_hash]
        if missing:
            raise TlcoreError(f"{WHO}: image {missing[0]!r} is not in the run's dataset {dataset.name}")
        images = [load_image(ws, h) for h in job.hashes]
        result = explain_run(ws, run, images, list(job.methods), true_labels=[by_hash[h].label for h in job.hashes],
                             names=[by_hash[h].source_name for h in job.hashes], **options)
    else:
        paths = [Path(f) for f in job.files]
        outside = [p for p in paths if not ws.contains(p)]
        if outside:
            raise TlcoreError(f"{WHO}: {outside[0]} is outside the workspace; spool uploads into it first")
        names = list(job.names) or [p.name for p in paths]
        result = explain_run(ws, run, paths, list(job.methods), names=names, **options)
    folder = save_explanation(ws.cache / "explain" / _new_name(job.run_id), result)
    return {
        "run_id": job.run_id,
        "folder": str(folder.relative_to(ws.root)),
        "images": len(result.images),
        "methods": list(result.methods),
        "sanity": {m: s.passed for m, s in result.sanity.items()},
    }


def report_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Write a run's review report (params: see :class:`ReportJob`). Returns its path and size."""
    from tlcore.explain.run_report import DEFAULT_METHODS, write_run_report

    job = ReportJob.from_params(params)
    path = ws.cache / "reports" / f"{_new_name(job.run_id)}.html"
    write_run_report(ws, job.run_id, path, methods=list(job.methods) or list(DEFAULT_METHODS),
                     per_group=job.per_group, sanity_images=job.sanity_images, on_event=on_event, cancel=cancel)
    return {"run_id": job.run_id, "path": str(path.relative_to(ws.root)), "bytes": path.stat().st_size}


def _new_name(run_id: str) -> str:
    return f"{run_id}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


EXPLAIN = register_kind(JobKind("explain", explain_task, ExplainJob))
REPORT = register_kind(JobKind("explain-report", report_task, ReportJob))
