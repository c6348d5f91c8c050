"""Class and dataset names as a person sees them: names that look the same must never become two classes.

Class names are NFC-normalised, invisible format characters (zero-width spaces and joiners, direction overrides,
byte-order marks, soft hyphens, Hangul fillers) are removed and white space is one plain space; names with
control characters (NUL, escape, line breaks inside the name) or with bytes that are not text are refused.
Dataset names are cleaned the same way, but never refused: control characters are dropped. The importer reports
every change (:mod:`tlcore.data.importing.common`). Names that differ only in upper/lower case are refused there.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from tlcore.errors import DatasetError

# Default-ignorable letters and marks that render as nothing (category Cf is removed as a whole).
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0")
_REFUSED = {"Cc": "a control character", "Cs": "a byte that is not text"}
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


class NameRefused(DatasetError):
    """A class name that cannot be used; ``reason`` is the skip reason the report shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _visible(text: str) -> str:
    kept = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" and ch not in _INVISIBLE)
    return unicodedata.normalize("NFC", " ".join(kept.split()))


def has_invisible(text: str) -> bool:
    """True when ``text`` holds invisible format characters (zero-width, direction overrides, ...)."""
    return any(unicodedata.category(ch) == "Cf" or ch in _INVISIBLE for ch in text)


def class_name(raw: str) -> str:
    """A class name as a person sees it: NFC, invisible characters removed, white space one plain space, trimmed.

    Raises:
        NameRefused: the name holds a control character or a byte that is not text.
    """
    text = unicodedata.normalize("NFC", raw).strip()
    for ch in text:
        kind = _REFUSED.get(unicodedata.category(ch))
        if kind:
            raise NameRefused(f"class name {raw!r} contains {kind} (U+{ord(ch):04X}); not imported")
    return _visible(text)


def name_change_warning(raw: str, name: str) -> str | None:
    """The warning for a class name that :func:`class_name` changed beyond NFC and trimming, or None."""
    if name == unicodedata.normalize("NFC", raw).strip():
        return None
    what = "invisible characters" if has_invisible(raw) else "repeated or unusual white space"
    return f"class name {raw!r} contains {what}; imported as {name!r}"


def dataset_name(raw: str) -> tuple[str, str | None]:
    """A clean dataset name (control and invisible characters dropped) and the warning if it changed."""
    text = "".join(
        " " if ch.isspace() else ch for ch in raw if ch.isspace() or unicodedata.category(ch) not in _REFUSED
    )
    if text == raw and not has_invisible(raw):
        return raw, None
    name = _visible(text) or "dataset"
    return name, f"dataset name {raw!r} contains control or invisible characters; it was saved as {name!r}"


def numeric_spelling_warnings(names: Iterable[str]) -> list[str]:
    """A warning for each group of class names that spell the same number (``1``, ``01``, ``1.0``, ``1e0``)."""
    by_value: dict[Decimal, list[str]] = defaultdict(list)
    for n in names:
        if len(n) <= 40 and _NUMBER.match(n):
            try:
                by_value[Decimal(n)].append(n)
            except InvalidOperation:
                continue
    out = []
    for spellings in by_value.values():
        if len(spellings) > 1:
            s = sorted(spellings)
            listed = ", ".join(repr(x) for x in s[:-1]) + f" and {s[-1]!r}"
            out.append(
                f"class names {listed} are spellings of the same number but were imported as {len(s)} classes; "
                "fix the labels if they mean one class"
            )
    return out
