"""The one registry of job kinds: a kind's name -> a :class:`JobKind` (its run function and parameter builder).

Contract for every kind's run function (the worker in :mod:`tlcore.jobs.worker` calls it)::

    run(params: dict, ws: Workspace, on_event: EventCallback, cancel: CancelToken) -> dict

- ``params`` is the JSON data given to ``JobManager.submit`` (what the kind's builder's ``to_params()`` gives).
  Validate it first (``Builder.from_params(params)``) and raise :class:`~tlcore.errors.TlcoreError` naming the
  bad setting and the problem.
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

The built-in kinds (:mod:`tlcore.jobs.kinds`) register themselves when that package is imported (the manager and
the worker import it); plugins (``TLCORE_PLUGINS``) call :func:`register_kind` when imported. Kinds are looked up
by name in this registry only; no module is ever imported from a user-given name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from tlcore.errors import TlcoreError
from tlcore.events import CancelToken, EventCallback
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.jobs.params import JobParams

RunFunction = Callable[[dict, Workspace, EventCallback, CancelToken], dict]


class UnknownJobKind(TlcoreError):
    """No job kind of that name is registered."""


@dataclass(frozen=True)
class JobKind:
    """A kind of background job.

    Attributes:
        name: what ``JobManager.submit`` and ``job.json`` call it ("train", "cv", ...).
        run: the function a worker runs (see the module docstring for its contract).
        params: the typed parameter builder (a :class:`~tlcore.jobs.params.JobParams` dataclass whose ``kind`` is
            ``name``); None for a kind that takes a plain dict only.
    """

    name: str
    run: RunFunction
    params: type[JobParams] | None = None


_KINDS: dict[str, JobKind] = {}


def register_kind(kind: JobKind) -> JobKind:
    """Add ``kind`` to the registry (registering the very same object again is a no-op); returns it.

    Raises:
        ValueError: the name is empty, already taken by another kind, or differs from its builder's ``kind``.
    """
    if not kind.name:
        raise ValueError("a job kind needs a name")
    if kind.params is not None and kind.params.kind != kind.name:
        raise ValueError(f"job kind {kind.name!r}: its parameter builder {kind.params.__name__} is for "
                         f"kind {kind.params.kind!r}")
    known = _KINDS.get(kind.name)
    if known is not None and known != kind:
        raise ValueError(f"job kind {kind.name!r} is already registered (by {known.run.__module__})")
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    """The names of the registered kinds, sorted."""
    return sorted(_KINDS)


def get_kind(name: object, source: str = "") -> JobKind:
    """The registered kind called ``name``.

    Args:
        name: the kind's name (anything read from a file is accepted and checked).
        source: where the name was read, for the message ("in <file>").

    Raises:
        UnknownJobKind: naming the kind, where it was read and the known kinds.
    """
    kind = _KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        where = f" in {source}" if source else ""
        raise UnknownJobKind(f"unknown job kind {name!r}{where}; known kinds: {', '.join(kind_names())}")
    return kind
