"""Saving a :class:`RunExplanation` to a folder and reading it back (how background jobs hand results over).

``explanation.json`` holds the small parts (names, predictions, deltas, checks); ``arrays.npz`` the pictures
and maps. Both are written atomically; loading never unpickles.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.atomic import atomic_write, atomic_write_json, read_json
from tlcore.explain.checks.faithfulness import Faithfulness
from tlcore.explain.checks.sanity import SanityResult, SanityStep
from tlcore.explain.config import Attribution
from tlcore.explain.errors import ExplainError
from tlcore.explain.run_images import ExplainedImage, RunExplanation

JSON_FILE = "explanation.json"
ARRAYS_FILE = "arrays.npz"


def save_explanation(folder: str | Path, result: RunExplanation) -> Path:
    """Write ``result`` into ``folder`` (created if needed); return the folder."""
    folder = Path(folder)
    arrays = {"pictures": np.stack([im.image for im in result.images])}
    for method in result.methods:
        arrays[f"maps_{method}"] = np.stack([im.maps[method].map for im in result.images]).astype(np.float32)
    atomic_write(folder / ARRAYS_FILE, lambda f: np.savez_compressed(f, **arrays))
    meta = {
        "run_id": result.run_id,
        "classes": list(result.classes),
        "methods": list(result.methods),
        "images": [
            {
                "name": im.name,
                "probs": [float(p) for p in im.probs],
                "predicted": im.predicted,
                "true_label": im.true_label,
                "target": im.target,
                "maps": {m: {"delta": a.delta, "seconds": a.seconds} for m, a in im.maps.items()},
            }
            for im in result.images
        ],
        "sanity": {m: asdict(s) for m, s in result.sanity.items()},
        "faithfulness": {m: [asdict(f) for f in fs] for m, fs in result.faithfulness.items()},
    }
    atomic_write_json(folder / JSON_FILE, meta)
    return folder


def load_explanation(folder: str | Path) -> RunExplanation:
    """Read what :func:`save_explanation` wrote.

    Raises:
        ExplainError: the folder has no (complete) explanation.
    """
    folder = Path(folder)
    try:
        meta = read_json(folder / JSON_FILE)
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError) as err:
        raise ExplainError(f"{folder}: no readable explanation there ({err})") from err
    methods = tuple(meta["methods"])
    images = []
    for i, item in enumerate(meta["images"]):
        maps = {
            m: Attribution(arrays[f"maps_{m}"][i], m, item["target"], item["maps"][m]["delta"],
                           item["maps"][m]["seconds"])
            for m in methods
        }
        images.append(ExplainedImage(item["name"], arrays["pictures"][i], np.asarray(item["probs"], dtype=np.float32),
                                     item["predicted"], item["true_label"], item["target"], maps))
    sanity = {m: _sanity(s) for m, s in meta["sanity"].items()}
    faith = {m: tuple(_faithfulness(f) for f in fs) for m, fs in meta["faithfulness"].items()}
    return RunExplanation(meta["run_id"], tuple(meta["classes"]), methods, tuple(images), sanity, faith)


def _sanity(data: dict[str, Any]) -> SanityResult:
    steps = tuple(SanityStep(s["label"], s["layers"], s["correlation"], tuple(s["per_image"])) for s in data["steps"])
    return SanityResult(data["method"], steps, data["threshold"], data["passed"], tuple(data["per_image_passed"]),
                        data["verdict"])


def _faithfulness(data: dict[str, Any]) -> Faithfulness:
    tuples = ("fractions", "deletion", "insertion", "random_deletion")
    return Faithfulness(**{k: tuple(v) if k in tuples else v for k, v in data.items()})
