"""Train/validation/test splits: stratified, seeded, and group-aware (identical images stay together).

Identical images (same content hash) form one group; groups, not records, are dealt out, so a copy of a
test image can never sit in the training set. Each class's groups are shuffled with the seed and cut by
the fractions, so every class appears in every non-empty part.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from tlcore.data.dataset import Dataset
from tlcore.errors import DatasetError

log = logging.getLogger(__name__)

IMBALANCE_RATIO = 3.0  # largest / smallest class above this gets a warning


@dataclass(frozen=True, eq=False)
class Split:
    """Record indices of each part (sorted ascending) and the settings that made them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    val_fraction: float
    test_fraction: float

    def counts(self, dataset: Dataset) -> dict[str, dict[str, int]]:
        """Images per class in each part: ``{"train": {"cat": 10, ...}, "val": ..., "test": ...}``."""
        labels = dataset.labels
        out = {}
        for part in ("train", "val", "test"):
            n = np.bincount(labels[getattr(self, part)], minlength=len(dataset.classes))
            out[part] = {c: int(k) for c, k in zip(dataset.classes, n)}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for run.json)."""
        return {
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test": self.test.tolist(),
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(
            train=np.asarray(data["train"], dtype=np.int64),
            val=np.asarray(data["val"], dtype=np.int64),
            test=np.asarray(data["test"], dtype=np.int64),
            seed=int(data["seed"]),
            val_fraction=float(data["val_fraction"]),
            test_fraction=float(data["test_fraction"]),
        )


def hash_groups(dataset: Dataset) -> np.ndarray:
    """A group id per record: records with the same content hash share one (use with group-aware CV)."""
    ids: dict[str, int] = {}
    return np.fromiter((ids.setdefault(h, len(ids)) for h in dataset.hashes), dtype=np.int64, count=len(dataset))


def distinct_counts(dataset: Dataset) -> dict[str, int]:
    """Distinct images (unique hashes) per class, in class order."""
    seen = {(r.label, r.hash) for r in dataset.records}
    counts = Counter(label for label, _ in seen)
    return {c: counts.get(i, 0) for i, c in enumerate(dataset.classes)}


def check_class_sizes(dataset: Dataset, minimum: int, purpose: str) -> None:
    """Raise :class:`DatasetError` unless there are 2+ classes, each with ``minimum`` distinct images.

    Args:
        dataset: the dataset to check.
        minimum: distinct images every class needs.
        purpose: what needs them, for the message (e.g. "a 5-fold cross-validation").
    """
    if len(dataset.classes) < 2:
        only = f" (only {dataset.classes[0]!r})" if dataset.classes else ""
        raise DatasetError(f"dataset {dataset.name!r} has {len(dataset.classes)} class{only}; at least 2 are needed")
    for cls, n in distinct_counts(dataset).items():
        if n == 0:
            raise DatasetError(
                f"class {cls!r} in dataset {dataset.name!r} is empty; it needs at least {minimum} images"
            )
        if n < minimum:
            raise DatasetError(
                f"class {cls!r} in dataset {dataset.name!r} has {n} distinct image{'s' if n != 1 else ''}; "
                f"{purpose} needs at least {minimum} per class"
            )


def make_split(dataset: Dataset, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0) -> Split:
    """Stratified, seeded, group-aware train/val/test split.

    Args:
        dataset: the dataset to split.
        val_fraction: share of each class's distinct images for validation (0 for none).
        test_fraction: share of each class's distinct images for the test set (0 for none).
        seed: the same seed and dataset always give the same split.

    Returns:
        The record indices of each part. A part with a fraction above 0 gets at least one image of every class.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise DatasetError(f"{name} must be at least 0 and below 1 (got {value})")
    if val_fraction + test_fraction >= 1.0:
        raise DatasetError(
            f"val_fraction + test_fraction must stay below 1 (got {val_fraction} + {test_fraction}); "
            "nothing would be left to train on"
        )
    minimum = 1 + (val_fraction > 0) + (test_fraction > 0)
    parts_text = "1 to train" + (", 1 to validate" if val_fraction > 0 else "")
    parts_text += ", 1 to test" if test_fraction > 0 else ""
    check_class_sizes(dataset, minimum, f"this split ({parts_text})")

    groups = _groups_by_class(dataset)
    for cls, cls_groups in zip(dataset.classes, groups):
        if len(cls_groups) < minimum:
            raise DatasetError(
                f"class {cls!r} in dataset {dataset.name!r} has only {len(cls_groups)} image(s) of its own "
                f"(the rest are identical to images of another class); this split ({parts_text}) needs {minimum}"
            )
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for cls_groups in groups:
        order = rng.permutation(len(cls_groups))
        n = len(cls_groups)
        n_test = _part_size(n, test_fraction)
        n_val = _part_size(n, val_fraction)
        while n - n_test - n_val < 1:  # rounding up took everything: give back from the larger part
            if n_val >= n_test and n_val > 1:
                n_val -= 1
            else:
                n_test -= 1
        for k, g in enumerate(order):
            target = test if k < n_test else val if k < n_test + n_val else train
            target.extend(cls_groups[g])
    split = Split(_sorted(train), _sorted(val), _sorted(test), seed, val_fraction, test_fraction)
    log.debug("split %s: %d train, %d val, %d test", dataset.id, len(split.train), len(split.val), len(split.test))
    return split


def _part_size(n: int, fraction: float) -> int:
    return 0 if fraction <= 0 else max(1, int(round(n * fraction)))


def _groups_by_class(dataset: Dataset) -> list[list[list[int]]]:
    """Per class, the record indices of each distinct image, ordered by hash (independent of record order).

    A hash found under several classes (the same picture labelled twice) is placed with its first class.
    """
    by_hash: dict[str, list[int]] = {}
    for i, r in enumerate(dataset.records):
        by_hash.setdefault(r.hash, []).append(i)
    per_class: list[list[list[int]]] = [[] for _ in dataset.classes]
    for h in sorted(by_hash):
        members = by_hash[h]
        label = min(dataset.records[i].label for i in members)
        per_class[label].append(members)
    return per_class


def _sorted(indices: list[int]) -> np.ndarray:
    return np.sort(np.asarray(indices, dtype=np.int64))


def imbalance_warning(dataset: Dataset, ratio: float = IMBALANCE_RATIO) -> str | None:
    """A sentence about class imbalance when the largest class is more than ``ratio`` times the smallest."""
    counts = dataset.class_counts()
    if len(counts) < 2:
        return None
    big = max(counts, key=lambda c: counts[c])
    small = min(counts, key=lambda c: counts[c])
    if counts[small] == 0:
        return f"class {small!r} has no images while {big!r} has {counts[big]}"
    actual = counts[big] / counts[small]
    if actual <= ratio:
        return None
    return (
        f"classes are imbalanced: {big!r} has {counts[big]} images, {small!r} only {counts[small]} "
        f"({actual:.1f}x); consider class-weighted training and read per-class metrics, not just accuracy"
    )
