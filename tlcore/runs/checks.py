"""Run records read back as untrusted input: :func:`read_record` parses ``run.json``, :func:`check_record` checks it.

Every problem raises :class:`RunDamaged` with a message that names the run, the file and what is wrong, so that a
damaged run is listed as damaged (:func:`tlcore.runs.records.list_runs`) and refused with a clear message when it is
shown or loaded, never with a ``KeyError``/``TypeError``/``JSONDecodeError`` traceback. Torch-free.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlcore.errors import TlcoreError

if TYPE_CHECKING:
    from tlcore.workspace import Workspace

_TEXT_FIELDS = ("kind", "label", "dataset_name", "backbone", "strategy", "cache_mode")
_INDEX_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "n")
SPLIT_PARTS = ("train", "val", "test")
_EPOCH_TEXT = {"inputs"}  # the history entries' text fields (tlcore.train.epoch); every other value is a number


class RunDamaged(TlcoreError):
    """A run's folder or files cannot be used: unreadable, malformed, or not matching what was recorded."""


def damaged(run_id: str, problem: str) -> RunDamaged:
    """The error for run ``run_id`` with ``problem`` (what is wrong, naming the file)."""
    return RunDamaged(f"run {run_id} is damaged: {problem}")


def is_number(value: Any) -> bool:
    """True for a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_index(value: Any) -> bool:
    """True for a non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_record(path: Path, run_id: str) -> Any:
    """The parsed JSON of ``path`` (a run's ``run.json``), unchecked.

    Raises:
        RunDamaged: the file is missing, a folder, unreadable, not UTF-8 or not JSON.
    """
    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise damaged(run_id, f"{name} is missing ({path})") from None
    except IsADirectoryError:
        raise damaged(run_id, f"{name} is a folder, not a file ({path})") from None
    except OSError as e:
        raise damaged(run_id, f"{name} cannot be read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise damaged(run_id, f"{name} cannot be read: it is not UTF-8 text (byte {e.start}); {path}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise damaged(run_id, f"{name} cannot be read: it is not valid JSON, perhaps truncated ({e.msg} at line "
                              f"{e.lineno} column {e.colno}); {path}") from None
    except RecursionError:
        raise damaged(run_id, f"{name} cannot be read: it is nested too deeply to be a run record; {path}") from None


def check_record(record: Any, run_id: str, trained: bool = False) -> dict[str, Any]:
    """Return ``record`` if it is a usable record of run ``run_id``.

    Checks what listing, showing and loading read: the id, ``created``, ``dataset_id``, the text fields, the
    metrics, timings and history, and for a training run with a model (``trained``: its folder holds weights) or a
    recorded split, the classes, the split (non-overlapping indices, in range of ``n_images`` when recorded), the
    config and the weights' hash.

    Raises:
        RunDamaged: naming the first missing key or wrong type.
    """
    def bad(problem: str) -> RunDamaged:
        return damaged(run_id, f"run.json {problem}")

    if not isinstance(record, dict):
        raise bad(f"holds a JSON {_json_type(record)}, not an object")
    for key in ("id", "created", "dataset_id"):
        if key not in record:
            raise bad(f"has no {key!r}")
    if record["id"] != run_id:
        raise bad(f"names another run ({_short(record['id'])})")
    if not is_number(record["created"]):
        raise bad(f"'created' is {_short(record['created'])}, not a time in seconds")
    if not isinstance(record["dataset_id"], str):
        raise bad(f"'dataset_id' is {_short(record['dataset_id'])}, not text")
    for key in _TEXT_FIELDS:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise bad(f"{key!r} is {_short(record[key])}, not text")
    for key in ("test_metrics", "val_metrics"):
        metrics = record.get(key)
        if metrics is None:
            continue
        if not isinstance(metrics, dict):
            raise bad(f"{key!r} is a JSON {_json_type(metrics)}, not an object")
        for m in _INDEX_METRICS:
            if metrics.get(m) is not None and not is_number(metrics[m]):
                raise bad(f"{key}.{m} is {_short(metrics[m])}, not a number")
    timings = record.get("timings")
    if timings is not None and not (isinstance(timings, dict) and is_number(timings.get("total", 0.0))):
        raise bad("'timings' is not an object with a number 'total'")
    history = record.get("history")
    if history is not None and not (isinstance(history, list) and all(_epoch_ok(h) for h in history)):
        raise bad("'history' is not a list of epoch objects (numbers per epoch)")
    if record.get("kind", "train") == "train" and (trained or "split" in record):
        _check_train(record, bad)
    return record


def _check_train(record: dict[str, Any], bad) -> None:
    classes = record.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise bad("'classes' is missing or not a list of class names")
    if not isinstance(record.get("config"), dict):
        raise bad("'config' is missing or not an object")
    split = record.get("split")
    if not isinstance(split, dict):
        raise bad("'split' is missing or not an object")
    seen: set[int] = set()
    total = 0
    for part in SPLIT_PARTS:
        indices = split.get(part)
        if not isinstance(indices, list) or not all(is_index(i) for i in indices):
            raise bad(f"split.{part} is missing or not a list of image indices (whole numbers from 0)")
        seen.update(indices)
        total += len(indices)
    if len(seen) != total:
        raise bad("split: an image index appears twice (the train, val and test parts must not overlap)")
    n_images = record.get("n_images")
    if n_images is not None:
        if not is_index(n_images):
            raise bad(f"'n_images' is {_short(n_images)}, not a count")
        if seen and max(seen) >= n_images:
            raise bad(f"split: index {max(seen)} is out of range for a dataset of {n_images} images")
    digest = record.get("weights_sha256")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise bad("'weights_sha256' is not a sha256 hex digest")


def _epoch_ok(entry: Any) -> bool:
    if not isinstance(entry, dict) or not is_index(entry.get("epoch", 0)):
        return False
    # numbers (NaN is a recorded "none"), and text only where an epoch records a word (the inputs mode)
    return all(v is None or isinstance(v, (int, float)) or (k in _EPOCH_TEXT and isinstance(v, str))
               for k, v in entry.items())


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a JSON {_json_type(value)}"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def check_metadata(meta: dict[str, Any], record: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Return the weights file's metadata if it describes a model this run can rebuild.

    Raises:
        RunDamaged: a key is missing or of the wrong type, or the classes differ from the record's.
    """
    from tlcore.models.registry import HEADS, TTA_MODES

    def bad(problem: str) -> RunDamaged:
        return damaged(run_id, f"model.safetensors metadata {problem}")

    for key in ("architecture", "num_classes", "head", "hidden", "dropout", "classes", "image_size", "data_config"):
        if key not in meta:
            raise bad(f"has no {key!r}")
    if not isinstance(meta["architecture"], str):
        raise bad("'architecture' is not a name")
    classes = meta["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise bad("'classes' is not a list of class names")
    n = meta["num_classes"]
    if not is_index(n) or n < 2 or n != len(classes):
        raise bad(f"'num_classes' is {_short(n)}, but it lists {len(classes)} classes")
    if classes != record.get("classes", classes):
        raise bad("lists other classes than run.json")
    if meta["head"] not in HEADS:
        raise bad(f"'head' is {_short(meta['head'])}, not one of {', '.join(HEADS)}")
    if not is_index(meta["hidden"]) or meta["hidden"] < 1:
        raise bad(f"'hidden' is {_short(meta['hidden'])}, not a positive whole number")
    if not is_number(meta["dropout"]) or not 0 <= meta["dropout"] < 1:
        raise bad(f"'dropout' is {_short(meta['dropout'])}, not a number from 0 to below 1")
    if not is_index(meta["image_size"]) or meta["image_size"] < 1:
        raise bad(f"'image_size' is {_short(meta['image_size'])}, not a size in pixels")
    if meta.get("tta", "none") not in TTA_MODES:
        raise bad(f"'tta' is {_short(meta.get('tta'))}, not one of {', '.join(TTA_MODES)}")
    dc = meta["data_config"]
    ok = (isinstance(dc, dict) and is_index(dc.get("input_size")) and dc["input_size"] >= 1
          and all(isinstance(dc.get(k), list) and len(dc[k]) == 3 and all(is_number(v) for v in dc[k])
                  for k in ("mean", "std"))
          and isinstance(dc.get("interpolation"), str) and is_number(dc.get("crop_pct")) and dc["crop_pct"] > 0)
    if not ok:
        raise bad("'data_config' is not an object with input_size, mean, std, interpolation and crop_pct")
    return meta


def check_split_fits_dataset(ws: "Workspace", record: dict[str, Any], run_id: str) -> None:
    """Check the recorded split's indices against the run's dataset, when that dataset can be read.

    A missing or damaged dataset is not this run's problem (predicting new images does not need it); whoever
    loads the dataset reports it.

    Raises:
        RunDamaged: an index is out of range for the dataset.
    """
    from tlcore.data.dataset import has_dataset, load_dataset
    from tlcore.errors import DatasetError

    split = record.get("split") or {}
    top = max((max(split[p]) for p in SPLIT_PARTS if split.get(p)), default=-1)
    try:
        if not has_dataset(ws, record["dataset_id"]):
            return
        n = len(load_dataset(ws, record["dataset_id"]))
    except DatasetError:
        return
    if top >= n:
        raise damaged(run_id, f"run.json split: index {top} is out of range for dataset {record['dataset_id']} "
                              f"of {n} images")
