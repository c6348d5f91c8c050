"""Job kinds for explanations (to be listed in :data:`tlcore.tasks.TASKS`):

* ``explain``: maps for a batch of images of a saved run, optionally with the trust checks; the result is
  saved under ``ws.cache/explain/<folder>`` (see :mod:`.saved`) and the job result names that folder.
* ``explain-report``: the review report of a run as one HTML file under ``ws.cache/reports``.

Both follow the task contract of :mod:`tlcore.tasks`: ``fn(params, ws, on_event, cancel) -> dict``.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

MAX_IMAGES = 64  # per explain job
SETTINGS = ("steps", "samples", "stdev", "window", "stride", "internal_batch_size", "max_side", "smooth_base", "seed")


def explain_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Explain images of a run.

    ``params``: ``run_id``; ``methods`` (list of names); either ``hashes`` (stored images of the run's dataset,
    true classes known) or ``files`` (image paths inside the workspace, e.g. spooled uploads) with optional
    ``names``; ``target`` ("predicted", "true", a class index or name); ``settings`` (ExplainConfig fields);
    ``sanity`` and ``faithfulness`` (bools).
    """
    from tlcore.data import load_dataset, load_image
    from tlcore.explain.runs import explain_run
    from tlcore.explain.saved import save_explanation
    from tlcore.runs.store import load_run

    run_id = _text(params, "run_id")
    methods = params.get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise TlcoreError("explain job: setting 'methods' must be a non-empty list of method names")
    settings = params.get("settings") or {}
    if not isinstance(settings, dict) or any(k not in SETTINGS for k in settings):
        raise TlcoreError(f"explain job: setting 'settings' may only hold {', '.join(SETTINGS)}")
    options = dict(target=params.get("target", "predicted"), settings=settings, sanity=bool(params.get("sanity")),
                   check_faithfulness=bool(params.get("faithfulness")), on_event=on_event, cancel=cancel)
    hashes, files = params.get("hashes"), params.get("files")
    if bool(hashes) == bool(files):
        raise TlcoreError("explain job: give either 'hashes' (stored images) or 'files' (image paths), not both")
    count = len(hashes or files)
    if count > MAX_IMAGES:
        raise TlcoreError(f"explain job: {count} images; at most {MAX_IMAGES} per job")
    run = load_run(ws, run_id)
    if hashes:
        dataset = load_dataset(ws, run.dataset_id)
        by_hash = {r.hash: r for r in dataset.records}
        missing = [h for h in hashes if h not in by_hash]
        if missing:
            raise TlcoreError(f"explain job: image {missing[0]!r} is not in the run's dataset {dataset.name}")
        images = [load_image(ws, h) for h in hashes]
        result = explain_run(ws, run, images, methods, true_labels=[by_hash[h].label for h in hashes],
                             names=[by_hash[h].source_name for h in hashes], **options)
    else:
        paths = [Path(f) for f in files]
        outside = [p for p in paths if not ws.contains(p)]
        if outside:
            raise TlcoreError(f"explain job: {outside[0]} is outside the workspace; spool uploads into it first")
        names = params.get("names") or [p.name for p in paths]
        result = explain_run(ws, run, paths, methods, names=names, **options)
    folder = save_explanation(ws.cache / "explain" / _new_name(run_id), result)
    return {
        "run_id": run_id,
        "folder": str(folder.relative_to(ws.root)),
        "images": len(result.images),
        "methods": list(result.methods),
        "sanity": {m: s.passed for m, s in result.sanity.items()},
    }


def report_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Write a run's review report. ``params``: ``run_id``; optional ``methods``, ``per_group``, ``sanity_images``."""
    from tlcore.explain.run_report import DEFAULT_METHODS, write_run_report

    run_id = _text(params, "run_id")
    methods = params.get("methods") or list(DEFAULT_METHODS)
    per_group = _int(params, "per_group", 4, 0, 24)
    sanity_images = _int(params, "sanity_images", 4, 0, 16)
    path = ws.cache / "reports" / f"{_new_name(run_id)}.html"
    write_run_report(ws, run_id, path, methods=methods, per_group=per_group, sanity_images=sanity_images,
                     on_event=on_event, cancel=cancel)
    return {"run_id": run_id, "path": str(path.relative_to(ws.root)), "bytes": path.stat().st_size}


def _new_name(run_id: str) -> str:
    return f"{run_id}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _text(params: dict, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise TlcoreError(f"explain job: setting '{name}' is missing or not text")
    return value


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise TlcoreError(f"explain job: setting '{name}' must be a whole number from {low} to {high}, got {value!r}")
    return value
