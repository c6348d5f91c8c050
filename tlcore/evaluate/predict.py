"""Predictions from a trained model: probabilities for stored images, top-k classes for new ones.

Probabilities that are not finite (damaged weights that slipped past the hash check) are refused, never shown.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np
from PIL import Image

from tlcore.data.loader import FEATURE_BATCH
from tlcore.errors import DatasetError, TlcoreError
from tlcore.models.inference import probs_from_batches

if TYPE_CHECKING:

    from tlcore.runs.store import LoadedRun

ImageInput = Union[Image.Image, bytes, str, Path]


@dataclass(frozen=True)
class Prediction:
    """Top-k classes for one image, most probable first."""

    name: str
    top: tuple[tuple[str, float], ...]  # (class, probability)

    @property
    def label(self) -> str:
        """The most probable class."""
        return self.top[0][0]

    @property
    def probability(self) -> float:
        """The most probable class's probability."""
        return self.top[0][1]


def open_image(image: ImageInput, name: str = "image") -> Image.Image:
    """An RGB PIL image from a PIL image, raw bytes or a path, checked and normalised like an import.

    Raises:
        DatasetError: naming the image and why it can't be used (not an image, corrupt, too large, ...).
    """
    from tlcore.data import ImageRejected, check_image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    try:
        if isinstance(image, (str, Path)):
            return check_image(Path(image)).image
        return check_image(io.BytesIO(bytes(image))).image
    except ImageRejected as exc:
        raise DatasetError(f"{name}: {exc.reason}") from None


def predict_images(run: "LoadedRun", images: Sequence[ImageInput], names: Sequence[str] | None = None,
                   top_k: int = 3) -> list[Prediction]:
    """Top-k classes with probabilities for new images, using a saved run's model and preprocessing."""
    import torch

    from tlcore.data.augment import eval_transform

    transform = eval_transform(run.data_config, run.image_size)
    names = list(names) if names is not None else [getattr(im, "name", str(i)) if not isinstance(im, (str, Path))
                                                   else Path(im).name for i, im in enumerate(images)]
    tensors = [transform(open_image(im, name)) for im, name in zip(images, names)]
    if not tensors:
        return []
    batches = [torch.stack(tensors[i:i + FEATURE_BATCH]) for i in range(0, len(tensors), FEATURE_BATCH)]
    probs = probs_from_batches(run.model, batches, len(tensors))
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():  # the second line of defence after the weights' hash: never print "nan%"
        raise TlcoreError(f"run {run.id} gives no usable probabilities for {names[int(np.argmax(bad))]} (NaN or "
                          "infinite values): its weights are damaged; train the run again")
    return top_k_predictions(probs, run.classes, names, top_k)


def top_k_predictions(probs: np.ndarray, classes: Sequence[str], names: Sequence[str], top_k: int = 3
                      ) -> list[Prediction]:
    """Turn a probability matrix into :class:`Prediction` objects."""
    k = max(1, min(top_k, len(classes)))
    result = []
    for name, row in zip(names, probs):
        order = np.argsort(-row, kind="stable")[:k]
        result.append(Prediction(name=name, top=tuple((classes[j], float(row[j])) for j in order)))
    return result
