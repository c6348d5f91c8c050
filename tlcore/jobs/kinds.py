"""The job kinds a background worker can run: one registry from a kind's name to its function.

Contract for every kind (the worker in :mod:`tlcore.jobs` calls it; see docs/DESIGN.md):

    fn(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict

- ``params`` is the JSON data given to ``JobManager.submit``. Validate it first and raise
  :class:`~tlcore.errors.TlcoreError` naming the bad setting and the problem.
- ``on_event`` takes the event dataclasses of :mod:`tlcore.events` (``ProgressTimer``, ``EpochEnd``,
  ``Message``); each one becomes a line of the job's ``events.jsonl``, so keep emitters rate-limited.
- ``cancel`` is checked between steps (``cancel.raise_if_cancelled()``); the
  :class:`~tlcore.errors.Cancelled` it raises makes the job "cancelled".
- The return value is a small JSON-serialisable dict (ids of what was saved, short summaries); it becomes
  the job's ``result.json``. Large outputs belong in the workspace (a run folder) and the result names them.
- A :class:`~tlcore.errors.TlcoreError` makes the job "failed" with its message shown to the user as is; any
  other exception makes it "failed" with "internal error: ..." and the traceback kept in the job folder.
- No torch (or other heavy) import at module level: import inside the function, so the app starts fast.
- Each job runs in a fresh worker process that ends with the job: nothing is shared with the app.

Kinds are looked up by name in :data:`TASKS` only; no module is ever imported from a user-given name.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any, Callable

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback, Message, ProgressTimer
from tlcore.workspace import Workspace

logger = logging.getLogger(__name__)

Task = Callable[[dict, Workspace, EventCallback, CancelToken], dict]

_SELFTEST_SETTINGS = ("steps", "delay", "at", "fail", "crash", "hang", "echo")
_CRASH_MODES = ("exit", "kill", "raise")
_HANG_LIMIT_S = 3600.0  # a "hang" still ends by itself after an hour


def _int_setting(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TlcoreError(f"selftest: setting '{name}' must be a whole number from {low} to {high}, got {value!r}")
    return value


def _float_setting(params: dict, name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise TlcoreError(f"selftest: setting '{name}' must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _choice_setting(params: dict, name: str, choices: tuple[Any, ...]) -> Any:
    value = params.get(name)
    if value not in choices:
        raise TlcoreError(f"selftest: setting '{name}' must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _misbehave(step: int, fail: str, crash: str | None, hang: bool | str, on_event: EventCallback) -> None:
    """Do the fault the selftest was asked for (nothing if none was)."""
    if crash == "exit":
        on_event(Message(f"selftest: exiting with code 3 at step {step} as asked", level="warning"))
        os._exit(3)
    if crash == "kill":
        on_event(Message(f"selftest: killing this worker with SIGKILL at step {step} as asked", level="warning"))
        os.kill(os.getpid(), signal.SIGKILL)
    if crash == "raise":
        raise RuntimeError(f"selftest raised an unexpected error at step {step} as asked")
    if hang:
        if hang == "hard":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        on_event(Message(f"selftest: hanging at step {step} as asked; cancel is ignored", level="warning"))
        end = time.monotonic() + _HANG_LIMIT_S
        while time.monotonic() < end:
            time.sleep(0.2)
        raise TlcoreError(f"selftest: hung for {_HANG_LIMIT_S:g} s as asked and was never stopped")
    if fail:
        raise TlcoreError(f"selftest failed on purpose at step {step}: {fail}")


def selftest(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """A small deterministic job that checks a worker starts, reports progress, and honours cancel.

    Settings (all optional): ``steps`` (default 5) steps of ``delay`` seconds (default 0.05); at step ``at``
    (default ``steps // 2``) it can ``fail`` (a message: raises TlcoreError), ``crash`` ("exit": ``os._exit(3)``,
    "kill": SIGKILL itself, "raise": an unexpected RuntimeError) or ``hang`` (True: ignore cancel and sleep;
    "hard": also ignore SIGTERM). ``echo`` (any JSON value) is returned unchanged.

    Returns:
        ``{"steps", "checksum", "echo", "pid"}``; ``checksum`` depends on ``steps`` only.
    """
    unknown = sorted(set(params) - set(_SELFTEST_SETTINGS))
    if unknown:
        raise TlcoreError(
            f"selftest: unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(_SELFTEST_SETTINGS)}"
        )
    steps = _int_setting(params, "steps", 5, 0, 100_000)
    delay = _float_setting(params, "delay", 0.05, 0.0, 60.0)
    at = _int_setting(params, "at", steps // 2, 0, steps)
    fail = params.get("fail") or ""
    if not isinstance(fail, str):
        raise TlcoreError(f"selftest: setting 'fail' must be a message (text), got {fail!r}")
    crash = _choice_setting(params, "crash", (None, *_CRASH_MODES))
    hang = _choice_setting(params, "hang", (None, False, True, "hard"))

    on_event(Message(f"selftest in worker pid {os.getpid()}: {steps} steps of {delay:g} s"))
    timer = ProgressTimer("selftest", steps, on_event)
    checksum = 0
    for step in range(steps):
        if step == at:
            _misbehave(step, fail, crash, hang, on_event)
        cancel.raise_if_cancelled()
        time.sleep(delay)
        checksum = (checksum * 31 + step + 1) % 1_000_003
        timer.update(step + 1)
    if at >= steps:
        _misbehave(steps, fail, crash, hang, on_event)
    cancel.raise_if_cancelled()
    logger.info("selftest finished %d steps", steps)
    return {"steps": steps, "checksum": checksum, "echo": params.get("echo"), "pid": os.getpid()}


def _dataset_id(params: dict, kind: str) -> str:
    dataset_id = params.get("dataset_id")
    if not isinstance(dataset_id, str) or not dataset_id:
        raise TlcoreError(f"{kind}: setting 'dataset_id' must name an imported dataset, got {dataset_id!r}")
    return dataset_id


def train_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Train on an imported dataset and record the run.

    Params: ``dataset_id``; ``config`` (a :class:`~tlcore.train.TrainConfig` as a dict, see
    ``tlcore.train.config_to_dict``); optional ``label``. Returns the run id and its headline numbers.
    """
    from tlcore.data import load_dataset
    from tlcore.runs.store import save_run
    from tlcore.train.loop import config_from_dict, train

    dataset = load_dataset(ws, _dataset_id(params, "train"))
    config = config_from_dict(params.get("config") or {})
    result = train(ws, dataset, config, on_event=on_event, cancel=cancel)
    run_id = save_run(ws, result, dataset, label=str(params.get("label", "")))
    return {"run_id": run_id, "test_accuracy": result.test_metrics.get("accuracy"),
            "test_macro_f1": result.test_metrics.get("macro_f1"), "cache_mode": result.cache_mode,
            "seconds": result.timings["total"], "epochs": len(result.history)}


from tlcore.jobs.cv_kinds import compare_task, curve_task, cv_task  # noqa: E402  (light: the work is imported when run)


def explain_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """Attribution maps for a batch of a run's images (see :func:`tlcore.explain.tasks.explain_task`)."""
    from tlcore.jobs.explain_kinds import explain_task as run

    return run(params, ws, on_event, cancel)


def report_task(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict:
    """A run's self-contained HTML review report (see :func:`tlcore.explain.tasks.report_task`)."""
    from tlcore.jobs.explain_kinds import report_task as run

    return run(params, ws, on_event, cancel)


TASKS: dict[str, Task] = {
    "selftest": selftest,
    "train": train_task,
    "cv": cv_task,
    "compare": compare_task,
    "curve": curve_task,
    "explain": explain_task,
    "explain-report": report_task,
}
