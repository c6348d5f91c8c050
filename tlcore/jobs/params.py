"""Typed job parameters: the base of every kind's builder, and the one set of validators they all use.

A builder is a small frozen dataclass per kind (``TrainJob``, ``CVJob``, ...). Callers build one and submit it;
``to_params()`` gives the plain JSON dict that ``job.json`` stores, and the worker turns that dict back into the
dataclass with ``from_params()``, which checks every setting. Each validator below raises
:class:`~tlcore.errors.TlcoreError` with ``"<who>: setting '<name>' ..."``, ``who`` naming the job kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from tlcore.errors import TlcoreError

if TYPE_CHECKING:
    from tlcore.train.config import TrainConfig


class JobParams:
    """Base of the typed parameter builders; subclasses are frozen dataclasses that set :attr:`kind`."""

    kind: ClassVar[str] = ""  # the registered job kind these parameters are for

    def to_params(self) -> dict[str, Any]:
        """The params dict of this job, as ``JobManager.submit`` takes it and ``job.json`` stores it."""
        raise NotImplementedError

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> JobParams:
        """The typed parameters of a params dict, every setting checked.

        Raises:
            TlcoreError: naming the first bad setting and the problem.
        """
        raise NotImplementedError


def check_keys(params: dict, known: Sequence[str], who: str, list_known: bool = False) -> None:
    """Refuse settings not in ``known`` (named, sorted); ``list_known`` adds the known ones to the message."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        hint = f"; known settings: {', '.join(known)}" if list_known else ""
        raise TlcoreError(f"{who}: unknown setting(s) {', '.join(unknown)}{hint}")


def whole_number(params: dict, name: str, default: int, low: int, high: int, who: str) -> int:
    """A whole-number setting within [low, high] (``default`` if absent; booleans refused)."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TlcoreError(f"{who}: setting '{name}' must be a whole number from {low} to {high}, got {value!r}")
    return value


def number(params: dict, name: str, default: float, low: float, high: float, who: str) -> float:
    """A number setting within [low, high] (``default`` if absent; booleans refused)."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise TlcoreError(f"{who}: setting '{name}' must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def choice(params: dict, name: str, choices: Sequence[Any], who: str) -> Any:
    """A setting that must be one of ``choices`` (absent counts as None)."""
    value = params.get(name)
    if value not in choices:
        raise TlcoreError(f"{who}: setting '{name}' must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def text(params: dict, name: str, who: str, must: str = "") -> str:
    """A non-empty text setting; ``must`` says what it must be ("must name an imported dataset")."""
    value = params.get(name)
    if not isinstance(value, str) or not value:
        problem = f"{must}, got {value!r}" if must else "is missing or not text"
        raise TlcoreError(f"{who}: setting '{name}' {problem}")
    return value


def list_of(params: dict, name: str, default: Sequence[Any], types: type | tuple[type, ...], who: str,
            what: str) -> list:
    """A list setting whose items are all ``types``; ``what`` describes it ("a list of numbers")."""
    value = params.get(name, list(default))
    if not isinstance(value, list) or not all(isinstance(v, types) for v in value):
        raise TlcoreError(f"{who}: setting '{name}' must be {what}, got {value!r}")
    return value


def train_config(params: dict, who: str) -> TrainConfig:
    """The ``config`` setting (a :class:`~tlcore.train.config.TrainConfig` as a dict) as a TrainConfig."""
    from tlcore.train.config import config_from_dict

    raw = params.get("config") or {}
    if not isinstance(raw, dict):
        raise TlcoreError(f"{who}: setting 'config' must be a dict of training settings, got {raw!r}")
    try:
        return config_from_dict(raw)
    except (TypeError, ValueError) as e:
        raise TlcoreError(f"{who}: setting 'config' is invalid: {e}") from e


def config_params(config: TrainConfig) -> dict[str, Any]:
    """``config`` as the plain dict a job's ``config`` setting holds."""
    from tlcore.train.config import config_to_dict

    return config_to_dict(config)
