"""The built-in demo dataset: scikit-learn's handwritten digits (1,797 real 8x8 scans, 10 classes, no download).

Each scan is drawn as dark ink on white, upscaled to 32x32 with nearest-neighbour, and stored as an RGB
image like any imported one. Class names are "0" .. "9". A second call finds the manifest and returns at once.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from tlcore.data.dataset import Dataset, ImportReport, dataset_id, has_dataset, load_dataset, load_report
from tlcore.data.images import checked_from_rgb, image_hash
from tlcore.data.importing.common import ImportBuilder
from tlcore.data.limits import ImportLimits
from tlcore.errors import DatasetError
from tlcore.events import CancelToken, EventCallback, ignore_event
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

DEMO_NAME = "digits (demo)"
DEMO_SOURCE = "scikit-learn load_digits"
DEMO_SIDE = 32


def digits_images(side: int = DEMO_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(n, side, side, 3)`` uint8 RGB (dark ink on white) and their labels 0..9."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn; never downloads

    digits = load_digits()
    ink = digits.images / 16.0  # 0 (paper) .. 1 (ink)
    gray = np.rint(255.0 * (1.0 - ink)).astype(np.uint8)
    factor = side // gray.shape[1]
    big = gray.repeat(factor, axis=1).repeat(factor, axis=2)
    rgb = np.repeat(big[..., None], 3, axis=3)
    return np.ascontiguousarray(rgb), digits.target.astype(np.int64)


def import_demo(
    ws: Workspace, *, on_event: EventCallback = ignore_event, cancel: CancelToken | None = None
) -> tuple[Dataset, ImportReport]:
    """Import the digits demo (or return it at once if this workspace already has it)."""
    images, targets = digits_images()
    pictures = [Image.fromarray(a, "RGB") for a in images]
    hashes = [image_hash(p) for p in pictures]
    classes = [str(d) for d in range(10)]
    did = dataset_id(classes, ((h, str(t)) for h, t in zip(hashes, targets)))
    if has_dataset(ws, did):
        try:
            return load_dataset(ws, did), load_report(ws, did)
        except DatasetError as e:  # damaged manifest or report: import again, which rewrites them
            log.warning("re-importing the demo dataset %s: %s", did, e)
    imp = ImportBuilder(ws, DEMO_SOURCE, ImportLimits(), on_event, cancel)
    imp.start(len(pictures))
    for i, (picture, target) in enumerate(zip(pictures, targets)):
        imp.step()
        imp.add_checked(str(target), f"digits/{target}/{i:04d}.png", checked_from_rgb(picture))
    return imp.finish(DEMO_NAME)
