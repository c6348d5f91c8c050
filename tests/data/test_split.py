"""Splits: stratified, seeded, identical images kept together, clear errors for classes too small."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.data import Dataset, ImageRecord, Split, check_class_sizes, hash_groups, imbalance_warning, make_split
from tlcore.errors import DatasetError


def _hash(i: int) -> str:
    return f"{i:064x}"


def dataset(counts: dict[str, int], duplicates: int = 0) -> Dataset:
    """Distinct images per class; ``duplicates`` extra copies of each of the first images of every class."""
    classes = tuple(sorted(counts))
    records, k = [], 0
    for label, cls in enumerate(classes):
        for i in range(counts[cls]):
            records.append(ImageRecord(_hash(k), label, f"{cls}/{i}.png", 8, 8))
            if i < duplicates:
                records.append(ImageRecord(_hash(k), label, f"{cls}/{i}-copy.png", 8, 8))
            k += 1
    return Dataset("0" * 16, "test", classes, tuple(records))


def test_parts_cover_everything_once_and_are_stratified() -> None:
    d = dataset({"a": 40, "b": 20, "c": 60})
    s = make_split(d, val_fraction=0.2, test_fraction=0.1, seed=3)
    everything = np.concatenate([s.train, s.val, s.test])
    assert sorted(everything.tolist()) == list(range(len(d)))
    counts = s.counts(d)
    assert counts["val"] == {"a": 8, "b": 4, "c": 12}
    assert counts["test"] == {"a": 4, "b": 2, "c": 6}
    assert counts["train"] == {"a": 28, "b": 14, "c": 42}
    assert all(np.all(np.diff(part) > 0) for part in (s.train, s.val, s.test))


def test_seeded_and_reproducible() -> None:
    d = dataset({"a": 30, "b": 30})
    one, again, other = make_split(d, seed=1), make_split(d, seed=1), make_split(d, seed=2)
    assert np.array_equal(one.test, again.test) and np.array_equal(one.train, again.train)
    assert not np.array_equal(one.test, other.test)


def test_identical_images_land_in_the_same_part() -> None:
    d = dataset({"a": 10, "b": 10}, duplicates=5)
    groups = hash_groups(d)
    for seed in range(10):
        s = make_split(d, 0.3, 0.3, seed)
        part_of = {}
        for name in ("train", "val", "test"):
            for i in getattr(s, name):
                part_of[int(i)] = name
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            assert len({part_of[int(i)] for i in members}) == 1


def test_every_class_appears_in_every_part_even_when_small() -> None:
    s = make_split(dataset({"a": 3, "b": 50}), 0.1, 0.1)
    counts = s.counts(dataset({"a": 3, "b": 50}))
    assert counts["train"]["a"] == counts["val"]["a"] == counts["test"]["a"] == 1


def test_zero_fractions_give_empty_parts() -> None:
    s = make_split(dataset({"a": 5, "b": 5}), val_fraction=0.2, test_fraction=0.0)
    assert len(s.test) == 0 and len(s.val) == 2 and len(s.train) == 8


def test_too_few_images_names_the_class_and_count() -> None:
    with pytest.raises(DatasetError, match=r"class 'b' .* has 2 distinct images; this split .* needs at least 3"):
        make_split(dataset({"a": 10, "b": 2}))
    make_split(dataset({"a": 10, "b": 2}), val_fraction=0.2, test_fraction=0.0)  # 2 are enough without a test set


def test_copies_do_not_count_as_more_images() -> None:
    with pytest.raises(DatasetError, match="class 'b' .* has 2 distinct images"):
        make_split(dataset({"a": 10, "b": 2}, duplicates=2))


def test_single_class_and_empty_class_are_refused() -> None:
    with pytest.raises(DatasetError, match=r"has 1 class \(only 'a'\); at least 2 are needed"):
        make_split(dataset({"a": 10}))
    empty = Dataset("0" * 16, "test", ("a", "b"), dataset({"a": 10}).records)
    with pytest.raises(DatasetError, match="class 'b' .* is empty"):
        make_split(empty)


@pytest.mark.parametrize("val,test", [(-0.1, 0.1), (0.5, 0.5), (1.0, 0.0), (0.2, 0.9)])
def test_bad_fractions_are_refused(val: float, test: float) -> None:
    with pytest.raises(DatasetError, match="fraction"):
        make_split(dataset({"a": 10, "b": 10}), val, test)


def test_check_class_sizes_names_purpose() -> None:
    with pytest.raises(DatasetError, match="class 'a' .* has 3 distinct images; a 5-fold cross-validation needs"):
        check_class_sizes(dataset({"a": 3, "b": 9}), 5, "a 5-fold cross-validation")


def test_imbalance_warning() -> None:
    assert imbalance_warning(dataset({"a": 30, "b": 10})) is None  # exactly 3x
    text = imbalance_warning(dataset({"a": 31, "b": 10}))
    assert text is not None and "'a' has 31" in text and "'b' only 10" in text and "3.1x" in text


def test_split_round_trips_through_json_form() -> None:
    s = make_split(dataset({"a": 10, "b": 10}), seed=5)
    back = Split.from_dict(s.to_dict())
    assert back.seed == 5 and np.array_equal(back.test, s.test) and back.train.dtype == np.int64
