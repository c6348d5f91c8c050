"""The job kinds ``cv``, ``compare`` and ``curve`` for :data:`tlcore.tasks.TASKS`.

Kept light (nothing heavy at import time, as the task registry requires): each function imports the engine when
a worker runs it. See :func:`tlcore.cv.cv_task`, :func:`tlcore.compare.compare_task` and
:func:`tlcore.compare.curve_task` for the params.
"""

from __future__ import annotations

from tlcore.events import CancelToken, EventCallback
from tlcore.workspace import Workspace


def cv_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Cross-validate one strategy and record the run (kind ``cv``)."""
    from tlcore.evaluate.cv import cv_task as run

    return run(params, ws, on_event, cancel)


def compare_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Compare strategies on shared folds and record the comparison (kind ``compare``)."""
    from tlcore.evaluate.compare import compare_task as run

    return run(params, ws, on_event, cancel)


def curve_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Draw the data-efficiency curve and record it (kind ``curve``)."""
    from tlcore.evaluate.compare import curve_task as run

    return run(params, ws, on_event, cancel)
