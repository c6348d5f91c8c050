"""Folds: disjoint, covering, stratified, seeded, duplicates together; the k check; saved folds checked; carving
and subsampling."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tests.synthetic import write_class_folder
from tlcore.data import import_folder
from tlcore.errors import DatasetError
from tlcore.evaluate.folds import carve_validation, check_folds, make_folds, subsample, training_part


def test_folds_are_disjoint_cover_every_image_once_and_are_stratified(dataset):
    folds = make_folds(dataset, 3, seed=0)
    joined = np.concatenate(folds)
    assert len(joined) == len(dataset.records) == 27
    assert sorted(joined.tolist()) == list(range(27))
    for fold in folds:
        counts = Counter(dataset.labels[fold].tolist())
        assert counts == {0: 3, 1: 3, 2: 3}  # 9 per class over 3 folds: exactly 3 of each class per fold


def test_folds_are_seeded(dataset):
    a, b = make_folds(dataset, 3, seed=5), make_folds(dataset, 3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = make_folds(dataset, 3, seed=6)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_identical_images_always_share_a_fold(dup_dataset):
    hashes = dup_dataset.hashes
    dup_hashes = {h for h, n in Counter(hashes).items() if n > 1}
    assert len(dup_hashes) == 9
    for seed in range(5):
        folds = make_folds(dup_dataset, 4, seed=seed)
        fold_of = {}
        for i, fold in enumerate(folds):
            for idx in fold:
                assert fold_of.setdefault(hashes[idx], i) == i
        train, val = carve_validation(dup_dataset, training_part(folds, 0), 0.3, seed)
        assert not {hashes[i] for i in train} & {hashes[i] for i in val}
        assert len(train) + len(val) == len(training_part(folds, 0))


def test_more_folds_than_the_smallest_class_has_images_is_refused_by_name(ws, tmp_path):
    root = write_class_folder(tmp_path / "small", n_per_class=6, size=16)
    for extra in range(2, 6):
        (root / "green" / f"green_{extra}.png").unlink()
    ds, _ = import_folder(ws, root, name="uneven")
    with pytest.raises(DatasetError) as info:
        make_folds(ds, 3, seed=0)
    message = str(info.value)
    assert "'green'" in message and "has 2 distinct images" in message and "3-fold" in message
    assert "at most 2 folds" in message
    with pytest.raises(DatasetError, match="at least 2"):
        make_folds(ds, 1, seed=0)


def test_saved_folds_are_checked_against_the_dataset(dataset, dup_dataset):
    folds = make_folds(dataset, 3, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(check_folds(dataset, [f.tolist() for f in folds]), folds))
    with pytest.raises(DatasetError, match="exactly once"):
        check_folds(dataset, [folds[0], folds[1]])
    with pytest.raises(DatasetError, match="exactly once"):
        check_folds(dup_dataset, folds)
    dup_folds = make_folds(dup_dataset, 3, seed=0)
    first_dup = next(i for i, h in enumerate(dup_dataset.hashes) if dup_dataset.hashes.count(h) > 1)
    twin = next(i for i, h in enumerate(dup_dataset.hashes) if h == dup_dataset.hashes[first_dup] and i != first_dup)
    broken = [np.setdiff1d(f, [twin]) for f in dup_folds]
    target = next(j for j, f in enumerate(dup_folds) if first_dup not in f)
    broken[target] = np.sort(np.append(broken[target], twin))
    with pytest.raises(DatasetError, match="same image in different folds"):
        check_folds(dup_dataset, broken)


def test_subsample_is_stratified_nested_and_keeps_one_image_per_class(dataset):
    pool = np.arange(len(dataset.records))
    small = subsample(dataset, pool, 0.1, 0)
    half = subsample(dataset, pool, 0.5, 0)
    assert Counter(dataset.labels[small].tolist()) == {0: 1, 1: 1, 2: 1}
    assert Counter(dataset.labels[half].tolist()) == {0: 4, 1: 4, 2: 4}  # round(9 * 0.5) = 4 per class
    assert set(small) <= set(half)
    assert np.array_equal(subsample(dataset, pool, 1.0, 0), pool)
