"""A dataset's files read back as untrusted input: ``manifest.json`` and ``report.json`` parsed and checked.

:func:`read_json_file` turns every way a file can be unreadable into a :class:`~tlcore.errors.DatasetError` that
names the dataset and the file; :func:`manifest_problem` and :func:`report_problem` say what is wrong with the parsed
JSON (a missing key, a wrong type), so that :mod:`tlcore.data.dataset` builds records from checked data only and
lists a damaged dataset (:class:`DamagedDataset`) instead of failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlcore.errors import DatasetError

_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class DamagedDataset:
    """A dataset folder whose manifest or import report cannot be read; listed so the user sees it, never deleted."""

    id: str  # the folder's name
    path: Path  # the file (or folder) at fault
    reason: str  # what is wrong, naming the dataset and the file
    usable: bool = False  # True when only the import report is damaged: the dataset itself still loads


def is_count(value: Any) -> bool:
    """True for a non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_json_file(path: Path, what: str) -> Any:
    """The JSON in ``path``.

    Raises:
        DatasetError: starting with ``what`` (e.g. ``"dataset 0123… is damaged: manifest.json"``): the file is a
            folder, unreadable, not UTF-8, not JSON or nested too deeply.
    """
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except IsADirectoryError:
        raise DatasetError(f"{what} cannot be read: it is a folder, not a file ({path})") from None
    except UnicodeDecodeError as e:
        raise DatasetError(f"{what} cannot be read: it is not UTF-8 text (byte {e.start}); {path}") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{what} cannot be read: it is not valid JSON, perhaps truncated ({e.msg} at line "
                           f"{e.lineno} column {e.colno}); {path}") from None
    except RecursionError:
        raise DatasetError(f"{what} cannot be read: it is nested too deeply; {path}") from None
    except OSError as e:
        raise DatasetError(f"{what} cannot be read ({e.strerror or e}); {path}") from None


def manifest_problem(data: Any, manifest_format: int) -> str | None:
    """What is wrong with a parsed manifest (nothing is coerced), or None when every key is there with its type."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    for key in ("id", "name", "classes", "records"):
        if key not in data:
            return f"it has no {key!r}"
    if data.get("format", manifest_format) != manifest_format:
        return f"format {str(data['format'])[:20]!r} is not one this version reads ({manifest_format})"
    if not isinstance(data["id"], str) or not isinstance(data["name"], str):
        return "'id' and 'name' must be text"
    created = data.get("created", 0.0)
    if not isinstance(created, (int, float)) or isinstance(created, bool) or created != created:
        return f"'created' is {str(created)[:40]!r}, not a time in seconds"
    classes = data["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return "'classes' is not a list of class names"
    if len(set(classes)) != len(classes):
        return "'classes' names a class twice"
    if not isinstance(data["records"], list):
        return "'records' is not a list"
    for i, r in enumerate(data["records"]):
        if not isinstance(r, dict):
            return f"record {i} is not an object"
        ok = (isinstance(r.get("hash"), str) and _HASH_RE.match(r["hash"]) and is_count(r.get("label"))
              and r["label"] < len(classes) and isinstance(r.get("source_name"), str)
              and is_count(r.get("width")) and is_count(r.get("height")))
        if not ok:
            return (f"record {i} ({str(r.get('source_name'))[:60]!r}) has a missing or bad hash, label, "
                    "source_name, width or height")
    return None


def report_problem(data: Any) -> str | None:
    """What is wrong with a parsed import report, or None when every key is there with its type."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    for key in ("dataset_id", "imported"):
        if key not in data:
            return f"it has no {key!r}"
    skipped, warnings = data.get("skipped", []), data.get("warnings", [])
    counts = data.get("class_counts", {})
    checks = (
        (isinstance(data["dataset_id"], str), "'dataset_id' is not text"),
        (is_count(data["imported"]), "'imported' is not a count"),
        (isinstance(skipped, list) and all(isinstance(x, dict) and isinstance(x.get("name"), str)
                                           and isinstance(x.get("reason"), str) for x in skipped),
         "'skipped' is not a list of {name, reason} objects"),
        (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings), "'warnings' is not a list of text"),
        (isinstance(counts, dict) and all(is_count(v) for v in counts.values()),
         "'class_counts' is not an object of counts"),
        (is_count(data.get("junk", 0)), "'junk' is not a count"),
        (isinstance(data.get("source", ""), str), "'source' is not text"),
    )
    return next((problem for ok, problem in checks if not ok), None)
