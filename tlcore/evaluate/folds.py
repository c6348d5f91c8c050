"""Folds for cross-validation: stratified, group-aware and seeded, and the parts carved from them.

Folds are dealt with scikit-learn's ``StratifiedKFold`` over the distinct images (content-hash groups), seeded, so
identical images always fall in the same fold and the same seed always gives the same folds; saved folds are checked
against the dataset before they are reused. Inside a fold, :func:`carve_validation` holds back the inner validation
part for early stopping and :func:`subsample` takes the nested shares of the data-efficiency curve. Torch-free;
sklearn is imported inside :func:`make_folds`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np

from tlcore.data import Dataset, check_class_sizes, hash_groups
from tlcore.errors import DatasetError, TlcoreError

log = logging.getLogger(__name__)


def make_folds(dataset: Dataset, k: int, seed: int = 0, within: np.ndarray | None = None) -> list[np.ndarray]:
    """Stratified, group-aware, seeded k folds: the held-out record indices of each fold (sorted).

    ``within`` restricts the folds to those record indices (the auto recipe's folds cover the non-test part of a
    split); by default they cover the whole dataset.

    Raises:
        DatasetError: if ``k`` is below 2 or a class has fewer than ``k`` distinct images (the message names the
            class and its count).
    """
    from sklearn.model_selection import StratifiedKFold

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise DatasetError(f"the number of folds must be a whole number of at least 2 (got {k!r})")
    idx = np.arange(len(dataset), dtype=np.int64) if within is None else np.unique(np.asarray(within, np.int64))
    if within is None:
        try:
            check_class_sizes(dataset, k, f"a {k}-fold cross-validation")
        except DatasetError as e:
            from tlcore.data.split import distinct_counts

            smallest = min(distinct_counts(dataset).values(), default=0)
            hint = f"; use at most {smallest} folds or add images to that class" if smallest >= 2 else ""
            raise DatasetError(f"{e}{hint}") from None
    else:
        _check_within(dataset, idx, k)
    # Deal the distinct images, not the records: copies of one image then always share a fold. A group takes its
    # lowest class (as make_split does). StratifiedKFold on the groups is the same stratified, group-aware deal as
    # StratifiedGroupKFold, whose greedy search takes a noticeable fraction of a second on a thousand images.
    _, groups = np.unique(hash_groups(dataset)[idx], return_inverse=True)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    group_label = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(group_label, groups, dataset.labels[idx])
    splitter = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class whose images all also sit in a lower class: it has no groups
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        dealt = [test for _, test in splitter.split(np.zeros(n_groups), group_label)]
    folds = [idx[np.isin(groups, test)] for test in dealt]
    if any(len(f) == 0 for f in folds):
        raise DatasetError(f"dataset {dataset.name!r} has too few distinct images for {k} folds")
    log.debug("folds for %s (k=%d, seed=%d): sizes %s", dataset.id, k, seed, [len(f) for f in folds])
    return folds


def _check_within(dataset: Dataset, idx: np.ndarray, k: int) -> None:
    """Raise :class:`DatasetError` unless every class has ``k`` distinct images among the records ``idx``."""
    if len(dataset.classes) < 2:
        only = f" (only {dataset.classes[0]!r})" if dataset.classes else ""
        raise DatasetError(f"dataset {dataset.name!r} has {len(dataset.classes)} class{only}; at least 2 are needed")
    hashes, labels = dataset.hashes, dataset.labels
    seen = {(int(labels[i]), hashes[i]) for i in idx}
    for c, name in enumerate(dataset.classes):
        n = sum(1 for label, _ in seen if label == c)
        if n < k:
            raise DatasetError(f"class {name!r} in dataset {dataset.name!r} has {n} distinct image"
                               f"{'s' if n != 1 else ''} outside the test split; {k} folds need at least {k} per "
                               f"class: use fewer folds, a smaller test fraction, or add images to that class")


def check_folds(dataset: Dataset, folds: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Validate saved folds against ``dataset``: at least 2, disjoint, covering every image once, duplicates together.

    Returns:
        The folds as sorted int64 arrays.
    """
    arrays = [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
    n = len(dataset.records)
    if len(arrays) < 2:
        raise DatasetError(f"saved folds: need at least 2 folds (got {len(arrays)})")
    joined = np.concatenate(arrays)
    if len(joined) != n or not np.array_equal(np.sort(joined), np.arange(n)):
        raise DatasetError(f"saved folds don't cover the {n} images of dataset {dataset.name!r} exactly once; "
                           "they belong to another dataset")
    fold_of = np.empty(n, dtype=np.int64)
    for i, f in enumerate(arrays):
        fold_of[f] = i
    groups = hash_groups(dataset)
    for g in np.unique(groups):
        if len(np.unique(fold_of[groups == g])) > 1:
            raise DatasetError("saved folds put copies of the same image in different folds")
    return arrays


def choose_folds(dataset: Dataset, k: int, seed: int, saved: Sequence[Sequence[int]] | None = None
                 ) -> list[np.ndarray]:
    """The ``saved`` folds checked against ``dataset`` when given, else new ones (:func:`make_folds`)."""
    return check_folds(dataset, saved) if saved is not None else make_folds(dataset, k, seed)


def training_part(folds: Sequence[np.ndarray], i: int) -> np.ndarray:
    """The record indices of every fold but fold ``i`` (0-based), sorted."""
    return np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i]))


def _class_groups(dataset: Dataset, indices: np.ndarray) -> dict[int, list[list[int]]]:
    """Per class, the members of each distinct image among ``indices``, ordered by hash (record order independent).

    A hash found under several classes is placed with its lowest class, as :func:`tlcore.data.make_split` does.
    """
    hashes, records = dataset.hashes, dataset.records
    by_hash: dict[str, list[int]] = {}
    for i in indices:
        by_hash.setdefault(hashes[int(i)], []).append(int(i))
    per_class: dict[int, list[list[int]]] = {}
    for h in sorted(by_hash):
        members = by_hash[h]
        per_class.setdefault(min(records[i].label for i in members), []).append(members)
    return per_class


def carve_validation(dataset: Dataset, indices: np.ndarray, fraction: float, seed: Sequence[int] | int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (train, validation): per class ``fraction`` of its distinct images, seeded.

    A class with a single distinct image keeps it for training (it gets no validation image).
    """
    if fraction <= 0:
        return np.sort(np.asarray(indices, dtype=np.int64)), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for _, groups in sorted(_class_groups(dataset, indices).items()):
        n = len(groups)
        n_val = 0 if n < 2 else min(n - 1, max(1, int(round(n * fraction))))
        for rank, g in enumerate(rng.permutation(n)):
            (val if rank < n_val else train).extend(groups[g])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


def subsample(dataset: Dataset, indices: np.ndarray, fraction: float, seed: Sequence[int] | int) -> np.ndarray:
    """A stratified share of ``indices``: per class ``fraction`` of its distinct images (at least one), seeded.

    With the same seed, a smaller fraction gives a subset of a larger one, so curve points differ only in size.
    """
    if not 0 < fraction <= 1:
        raise TlcoreError(f"training fraction must be above 0 and at most 1 (got {fraction})")
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    for _, groups in sorted(_class_groups(dataset, indices).items()):
        order = rng.permutation(len(groups))
        for g in order[:max(1, int(round(len(groups) * fraction)))]:
            kept.extend(groups[g])
    return np.sort(np.asarray(kept, dtype=np.int64))
