"""Tiny synthetic image datasets for fast tests: classes that differ by colour, with pixel noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (40, 60, 200), "yellow": (210, 200, 40)}


def write_class_folder(root: Path, classes: tuple[str, ...] = ("red", "green", "blue"), n_per_class: int = 8,
                       size: int = 24, seed: int = 0) -> Path:
    """Write ``root/<class>/<i>.png`` images: the class colour plus noise, so even a random network separates them."""
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array(COLOURS[name], dtype=np.float64)
        for i in range(n_per_class):
            noise = rng.normal(0, 25, size=(size, size, 3))
            arr = np.clip(base + noise, 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(folder / f"{name}_{i}.png")
    return root
