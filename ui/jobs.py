"""Background jobs for the pages: one cached JobManager for all sessions, and live views that poll it.

Jobs run in worker processes owned by :class:`tlcore.jobs.manager.JobManager`; their state lives on disk, so a page
switch, a browser refresh or a second tab never loses or duplicates one. A page shows a job by calling
:func:`live` with a render function: while the job is queued or running, a fragment re-runs every
``POLL_SECONDS`` and redraws only itself; once the job has finished it re-runs the whole page once so the
page can draw the result.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Callable

import streamlit as st

from ui import state
from ui.text import md_escape

if TYPE_CHECKING:
    from tlcore.jobs.manager import JobManager, JobStatus
    from tlcore.jobs.params import JobParams

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
STATE_ICONS = {"queued": ":material/hourglass_empty:", "running": ":material/autorenew:",
               "done": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:",
               "interrupted": ":material/warning:"}


@st.cache_resource(show_spinner=False)
def _manager_for(root: str) -> "JobManager":
    from tlcore.jobs.manager import JobManager
    from tlcore.workspace import Workspace

    log.info("starting the job manager for %s", root)
    return JobManager(Workspace(root), max_running=1)


def manager() -> "JobManager":
    """The job manager of this server process for the current workspace (shared by all sessions)."""
    return _manager_for(str(state.workspace().root))


def submit(job: "JobParams | str", params: dict | None = None, label: str = "") -> str:
    """Submit a job owned by this browser session; return its id.

    Args:
        job: the job's typed parameters (``TrainJob(dataset.id, config)``, see :mod:`tlcore.jobs.kinds`), or the
            name of a kind that has no builder (a plugin's), with its ``params`` dict.
        params: only with a kind's name.
        label: what the job lists show.
    """
    if isinstance(job, str):
        return manager().submit(job, params or {}, owner=state.owner(), label=label)
    if params is not None:
        raise TypeError("submit() takes params only with a kind's name; typed job parameters carry their own")
    return manager().submit_job(job, owner=state.owner(), label=label)


def my_jobs(kind: str | None = None) -> list["JobStatus"]:
    """This session's jobs (of ``kind`` if given), newest first."""
    return [j for j in manager().list(owner=state.owner()) if kind is None or j.kind == kind]


def latest_job(kind: str) -> "JobStatus | None":
    """This session's newest job of ``kind``, or None."""
    jobs = my_jobs(kind)
    return jobs[0] if jobs else None


def events(job_id: str) -> list[dict]:
    """All progress events of ``job_id`` so far; only new lines are parsed on each call."""
    cache: dict[str, list[dict]] = st.session_state.setdefault(state.EVENT_CACHE, {})
    seen = cache.get(job_id, [])
    since = seen[-1]["index"] + 1 if seen else 0
    new = manager().events(job_id, since=since)
    if new:
        seen = seen + new
        cache[job_id] = seen
    return seen


def epoch_history(job_events: list[dict]) -> list[dict]:
    """The per-epoch rows (train/val loss and accuracy) from a job's "epoch" events, last one per epoch."""
    rows: dict[tuple, dict] = {}
    for event in job_events:
        if event.get("kind") == "epoch":
            rows[(event.get("fold"), event["epoch"])] = event
    return list(rows.values())


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``"1 min 15 s"``; None or NaN -> ``"unknown"``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "unknown"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def progress_bar(status: "JobStatus") -> None:
    """A progress bar for the job's latest progress event: phase, steps and ETA."""
    event = status.progress or {}
    if status.state == "queued":
        st.progress(0.0, text="Waiting for the worker (another job is running)…")
        return
    if event.get("kind") == "epoch":
        done, total, phase = event["epoch"], event["epochs"], "train"
        text = f"epoch {done}/{total}"
    elif event:
        done, total, phase = event.get("done", 0), event.get("total", 0), event.get("phase", "")
        text = f"{phase}: {done}/{total}" if total else phase
    else:
        st.progress(0.0, text="Starting the worker…")
        return
    fraction = min(1.0, done / total) if total else 0.0
    eta = event.get("eta")
    elapsed = time.time() - status.started if status.started else None
    text += f" · elapsed {format_seconds(elapsed)}" + (f" · about {format_seconds(eta)} left" if eta else "")
    st.progress(fraction, text=text)


def cancel_button(status: "JobStatus") -> None:
    """A button that asks the job to stop (disabled once asked)."""
    label = "Cancelling…" if status.cancel_requested else "Cancel"
    st.button(label, key=f"cancel-{status.id}", disabled=status.cancel_requested, on_click=manager().cancel,
              args=(status.id,), help="Stop the job at its next step; nothing is saved.")


def outcome(status: "JobStatus") -> None:
    """A short message for a finished job that did not succeed (the reason, never a traceback)."""
    icon = STATE_ICONS.get(status.state)
    reason = md_escape(status.error or "no reason was recorded")
    if status.state == "failed":
        st.error(f"The job failed: {reason}", icon=icon)
    elif status.state == "cancelled":
        st.warning(f"The job was cancelled: {reason}.", icon=icon)
    elif status.state == "interrupted":
        st.warning(f"The job was interrupted: {reason}. Start it again when you are ready.", icon=icon)


@st.fragment(run_every=POLL_SECONDS)
def _poll(job_id: str, render: Callable[["JobStatus", list[dict]], None]) -> None:
    status = manager().get(job_id)
    if not status.active:
        st.rerun()  # the whole page, which now draws the finished job
    render(status, events(job_id))


def live(job_id: str, render: Callable[["JobStatus", list[dict]], None]) -> "JobStatus":
    """Draw ``render(status, events)`` for a job and keep it updated while the job runs; return the status."""
    status = manager().get(job_id)
    if status.active:
        _poll(job_id, render)
    return status


class InlineProgress:
    """An ``on_event`` callback that shows a tlcore function's progress events in a progress bar.

    For short work done inside the script run (an import, a prediction); long work belongs in a job.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._bar = st.progress(0.0, text=text)

    def __call__(self, event) -> None:
        total = getattr(event, "total", 0)
        done = getattr(event, "done", 0)
        if getattr(event, "kind", "") not in ("phase", "progress"):
            return
        eta = getattr(event, "eta", None)
        suffix = f" · about {format_seconds(eta)} left" if eta else ""
        self._bar.progress(min(1.0, done / total) if total else 0.0,
                           text=f"{self._text} {done:,}/{total:,}{suffix}" if total else self._text)

    def done(self) -> None:
        """Remove the bar."""
        self._bar.empty()
