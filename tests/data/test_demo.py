"""The digits demo: 1,797 real scans, 10 classes, dark ink on white, instant on a second call."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.data import import_demo, list_datasets, load_image, make_split
from tlcore.data.demo import digits_images
from tlcore.data.importing import common as importing_common
from tlcore.workspace import Workspace


def test_digits_images_are_dark_ink_on_white() -> None:
    images, labels = digits_images()
    assert images.shape == (1797, 32, 32, 3) and images.dtype == np.uint8
    assert sorted(set(labels.tolist())) == list(range(10))
    assert np.all(images[:, 0, 0] == 255)  # paper in the corner
    assert images.min() == 0  # full ink somewhere
    assert np.all(images[:, ::4, ::4] == images[:, 1::4, 1::4])  # nearest-neighbour 4x blocks


@pytest.mark.slow
def test_import_demo(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, report = import_demo(ws)
    assert dataset.classes == tuple(str(d) for d in range(10))
    assert len(dataset) == 1797 and report.imported == 1797 and not report.skipped
    assert sum(dataset.class_counts().values()) == 1797 and min(dataset.class_counts().values()) >= 170
    img = load_image(ws, dataset.records[0].hash)
    assert img.mode == "RGB" and img.size == (32, 32)
    assert len(list(ws.images.rglob("*.png"))) == 1797

    def no_writes(*args, **kwargs):
        raise AssertionError("the second demo import wrote images")

    monkeypatch.setattr(importing_common, "store_image", no_writes)
    again, again_report = import_demo(ws)
    assert again == dataset and again_report == report
    assert [d.id for d in list_datasets(ws)] == [dataset.id]
    split = make_split(dataset, 0.15, 0.15, seed=0)
    assert len(split.train) + len(split.val) + len(split.test) == 1797
