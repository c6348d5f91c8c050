"""Text that is safe to hand on: CSV cells a spreadsheet will not run, and terminal output that cannot steer it.

- :func:`csv_cell` neutralises one CSV cell (the OWASP rule against formula injection): a text cell that starts with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote, so a spreadsheet shows it as
  text instead of running ``=HYPERLINK(...)``. Numbers (``-0.5`` as a float, or as the text ``"-0.5"``) stay numbers.
- :func:`csv_text` writes a whole table (a pandas DataFrame, row dicts or row lists) as CSV text, every cell and
  column name through :func:`csv_cell`: the one way tlcore and the app write CSV.
- :func:`terminal_text` escapes the characters that steer a terminal or hide text (ANSI/OSC escape sequences, C0 and
  C1 controls, DEL, bidi overrides and other invisible format characters, lone surrogates from undecodable file
  names) as visible ``\\x1b``-style escapes, so a printed name cannot clear the screen or retitle the window.
- :func:`terminal_json` does the same inside JSON text (as ``\\uXXXX`` escapes, so the parsed value is unchanged).

Standard library only, and no tlcore imports: a base module that every layer may use.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any, Iterable, Mapping, Sequence

# A cell starting with one of these is read as a formula (or, for tab and CR, lets one through) by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Plain decimal numbers written as text ("-0.5", "+3", "1e-4"): a spreadsheet reads them as numbers, not formulas.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

# Characters that steer a terminal or are invisible: C0 controls, DEL, C1 controls (CSI, OSC ...), Unicode format
# characters (bidi embeddings, overrides and isolates, zero-width spaces and joiners, BOM, tags), line and paragraph
# separators, and surrogates (what undecodable bytes of a file name become).
_INVISIBLE = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\ud800-\udfff"
)
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_TERMINAL_UNSAFE_KEEP_NEWLINES = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
# In JSON text, C0 controls inside strings are already escaped and the newlines between lines are structure.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")


def csv_cell(value: Any) -> Any:
    """One CSV cell made safe to open in a spreadsheet.

    Args:
        value: the cell. Only text is changed; numbers, booleans and ``None`` come back as they are.

    Returns:
        ``value`` with a single quote in front when it is text starting with ``=``, ``+``, ``-``, ``@``, a tab or a
        carriage return and is not a plain decimal number: ``"=HYPERLINK(...)"`` becomes ``"'=HYPERLINK(...)"``,
        while ``"-0.5"`` and ``-0.5`` stay as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of one row through :func:`csv_cell`."""
    return [csv_cell(v) for v in values]


def csv_text(table: Any, columns: Sequence[str] | None = None, *, index: bool = False) -> str:
    """A table as CSV text with every cell and column name made safe (:func:`csv_cell`), lines ending in ``\\n``.

    Args:
        table: a pandas DataFrame (written with pandas' own ``to_csv``, so numbers look as pandas writes them),
            a sequence of row dicts (columns in first-seen order; a missing key, ``None`` or NaN is an empty cell),
            or a sequence of row lists or tuples (then ``columns`` is the header, or there is none).
        columns: the header and its order for row dicts or row lists (default: the dicts' keys; lists: no header).
            For a DataFrame, only these columns, in this order.
        index: write a DataFrame's index as the first column (default: no).

    Returns:
        The CSV text.
    """
    if _is_frame(table):
        frame = table if columns is None else table[list(columns)]
        return _frame_csv(frame, index)
    rows = list(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows and isinstance(rows[0], Mapping):
        header = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
        writer.writerow(csv_row(header))
        writer.writerows(csv_row(_plain(r.get(k)) for k in header) for r in rows)
    else:
        if columns is not None:
            writer.writerow(csv_row(columns))
        writer.writerows(csv_row(_plain(v) for v in r) for r in rows)
    return out.getvalue()


def terminal_text(text: Any, keep_newlines: bool = False) -> str:
    """``text`` (anything, shown with ``str``) with every character that steers a terminal or hides text escaped.

    ``"\\x1b]0;owned\\x07"`` prints as ``\\x1b]0;owned\\x07``, visibly, instead of retitling the window; a right-to-left
    override prints as ``\\u202e``; an undecodable byte of a file name (a lone surrogate) prints as ``\\xff``. Ordinary
    text, accents and emoji are untouched.

    Args:
        text: what is about to be printed.
        keep_newlines: leave ``\\n`` as it is (for a message of several lines); otherwise it is escaped too, so a name
            cannot fake extra lines of output.
    """
    pattern = _TERMINAL_UNSAFE_KEEP_NEWLINES if keep_newlines else _TERMINAL_UNSAFE
    return pattern.sub(_escape, str(text))


def terminal_json(text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with what :func:`terminal_text` escapes
    written as ``\\uXXXX`` escapes: still the same JSON value once parsed, but safe to print on a terminal."""
    return _JSON_UNSAFE.sub(_json_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: a UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _plain(value: Any) -> Any:
    """An empty cell for ``None`` and NaN (as pandas writes them)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _is_frame(table: Any) -> bool:
    return type(table).__name__ == "DataFrame" and hasattr(table, "to_csv") and hasattr(table, "columns")


def _frame_csv(frame: Any, index: bool) -> str:
    safe = frame.copy()
    safe.columns = [csv_cell(c) if isinstance(c, str) else c for c in safe.columns]
    for i, dtype in enumerate(safe.dtypes):
        if getattr(dtype, "kind", "O") not in "biufcmM":  # text, mixed or categorical: numbers stay as they are
            safe.isetitem(i, safe.iloc[:, i].astype(object).map(csv_cell))
    if index:
        safe.index = safe.index.map(csv_cell)
    out = io.StringIO()
    safe.to_csv(out, index=index, lineterminator="\n")
    return out.getvalue()
