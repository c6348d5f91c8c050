"""Test plugin: the fault-injecting job kind ``selftest``, registered for every process of a test session.

``tests/conftest.py`` names this module in ``TLCORE_PLUGINS``; each job worker imports it in
``tlcore.runtime.setup()``, so the kind is known to the manager (in the test process) and the worker alike.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback, Message, ProgressTimer
from tlcore.jobs.params import check_keys, choice, number, whole_number
from tlcore.jobs.registry import JobKind, register_kind
from tlcore.workspace import Workspace

logger = logging.getLogger(__name__)

SETTINGS = ("steps", "delay", "at", "fail", "crash", "hang", "echo")
CRASH_MODES = ("exit", "kill", "raise")
HANG_LIMIT_S = 3600.0  # a "hang" still ends by itself after an hour


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
        end = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < end:
            time.sleep(0.2)
        raise TlcoreError(f"selftest: hung for {HANG_LIMIT_S:g} s as asked and was never stopped")
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
    check_keys(params, SETTINGS, "selftest", list_known=True)
    steps = whole_number(params, "steps", 5, 0, 100_000, "selftest")
    delay = number(params, "delay", 0.05, 0.0, 60.0, "selftest")
    at = whole_number(params, "at", steps // 2, 0, steps, "selftest")
    fail = params.get("fail") or ""
    if not isinstance(fail, str):
        raise TlcoreError(f"selftest: setting 'fail' must be a message (text), got {fail!r}")
    crash = choice(params, "crash", (None, *CRASH_MODES), "selftest")
    hang = choice(params, "hang", (None, False, True, "hard"), "selftest")

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


SELFTEST = register_kind(JobKind("selftest", selftest))
