"""Progress events and cancellation: how long work reports to whoever runs it (CLI, job worker, tests).

Work calls one ``on_event(event)`` callback with small frozen dataclasses and checks a
:class:`CancelToken` between steps. ``event_to_dict`` / ``event_from_dict`` carry events across
processes as JSON.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Optional

from tlcore.errors import Cancelled


@dataclass(frozen=True)
class PhaseStarted:
    """A named phase began (``"features"``, ``"train"``, ``"evaluate"``, ``"fold 2/5"``, ...)."""

    phase: str
    total: int = 0  # steps expected in this phase, 0 if unknown
    message: str = ""
    kind: str = field(default="phase", init=False)


@dataclass(frozen=True)
class Progress:
    """Steps done within the current phase, with timing."""

    phase: str
    done: int
    total: int
    elapsed: float  # seconds since the phase started
    eta: Optional[float] = None  # seconds left, None if unknown
    message: str = ""
    kind: str = field(default="progress", init=False)


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished: losses and validation metrics for the live curves."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    train_accuracy: float = float("nan")
    lr: float = 0.0
    elapsed: float = 0.0
    eta: Optional[float] = None
    trainable_params: int = 0
    fold: Optional[int] = None  # set during cross-validation
    kind: str = field(default="epoch", init=False)


@dataclass(frozen=True)
class Message:
    """A line of text worth showing (a warning, a decision the engine made)."""

    text: str
    level: str = "info"  # info | warning
    kind: str = field(default="message", init=False)


@dataclass(frozen=True)
class Leaderboard:
    """The auto recipe's leaderboard as it stands: one dict per candidate (``status`` planned | running | done |
    skipped | failed, its CV mean and interval once done), the time spent and the estimated time left."""

    rows: list = field(default_factory=list)  # list[dict[str, Any]], JSON-ready
    elapsed: float = 0.0
    eta: Optional[float] = None
    budget: float = 0.0
    message: str = ""
    kind: str = field(default="leaderboard", init=False)


Event = PhaseStarted | Progress | EpochEnd | Message | Leaderboard
EventCallback = Callable[[Event], None]

_KINDS: dict[str, type] = {"phase": PhaseStarted, "progress": Progress, "epoch": EpochEnd, "message": Message,
                           "leaderboard": Leaderboard}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict with a ``kind`` key."""
    return asdict(event)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; unknown keys are ignored."""
    cls = _KINDS[data["kind"]]
    names = {f.name for f in fields(cls) if f.init}
    return cls(**{k: v for k, v in data.items() if k in names})


def ignore_event(event: Event) -> None:
    """The default callback: drop the event."""


class CancelToken:
    """A flag the work checks between steps. Optionally backed by a file so another process can set it."""

    def __init__(self, flag_file: str | Path | None = None) -> None:
        self._event = threading.Event()
        self._flag_file = Path(flag_file) if flag_file else None

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()
        if self._flag_file is not None:
            self._flag_file.touch()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called (here or, for a file-backed token, in another process)."""
        if not self._event.is_set() and self._flag_file is not None and self._flag_file.exists():
            self._event.set()
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~tlcore.errors.Cancelled` if cancelled."""
        if self.cancelled:
            raise Cancelled("cancelled by the user")


class ProgressTimer:
    """Turns ``done`` counts into :class:`Progress` events with elapsed time and an ETA."""

    def __init__(self, phase: str, total: int, on_event: EventCallback, min_interval: float = 0.25) -> None:
        self.phase, self.total, self.on_event, self.min_interval = phase, total, on_event, min_interval
        self.start = time.perf_counter()
        self._last = 0.0
        on_event(PhaseStarted(phase, total))

    def update(self, done: int, message: str = "", force: bool = False) -> None:
        """Report ``done`` of ``total`` steps (rate-limited unless ``force`` or finished)."""
        now = time.perf_counter()
        if not force and done < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done and self.total else None
        self.on_event(Progress(self.phase, done, self.total, elapsed, eta, message))
