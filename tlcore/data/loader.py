"""Stored images in, normalised float batches out: decoding and PIL steps in a background thread.

Images reach a network through :func:`batched_images`: decoding and the per-image PIL steps of the transform
run in a background thread (no torch work there, so it never competes with the model's OpenMP threads), and
the conversion to normalised float happens once per batch, giving a channels-last batch.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from tlcore.workspace import Workspace

if TYPE_CHECKING:
    import torch
    from PIL import Image


# Images per forward pass of a frozen network. Measured on 2 cores at 224 px with EfficientNet-Lite0, stored
# images to features, batch sizes in alternating rounds: 16 → 52.5, 32 → 57.5, 48 → 60.8 images/s, with a peak
# RSS of about 1.05, 1.35 and (at 64) 1.95 GB for inference alone. 32 is the trade; without the malloc tuning
# (tlcore/runtime/allocator.py) smaller batches would be faster.
FEATURE_BATCH = 32


@dataclass(frozen=True)
class SplitTransform:
    """A transform taken apart: per-image PIL steps, then one uint8 → normalised float conversion per batch."""

    pil: Callable[["Image.Image"], "Image.Image"]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def split_transform(transform: Callable[["Image.Image"], "torch.Tensor"]) -> SplitTransform | None:
    """Split ``Compose([...PIL steps, PILToTensor(), ToDtype(float32, scale=True), Normalize(mean, std)])``.

    Every transform of :mod:`tlcore.data.augment` has that shape. Returns None for any other transform, which is then
    applied per image as it is. :func:`to_float_batch` on the stacked PIL results gives exactly the numbers the
    whole transform gives image by image.
    """
    import torch
    from torchvision.transforms import v2

    steps = getattr(transform, "transforms", None)
    if not isinstance(transform, v2.Compose) or not isinstance(steps, list) or len(steps) < 3:
        return None
    to_tensor, to_dtype, normalize = steps[-3:]
    if not (type(to_tensor) is v2.PILToTensor and type(to_dtype) is v2.ToDtype and type(normalize) is v2.Normalize):
        return None
    if to_dtype.dtype is not torch.float32 or not to_dtype.scale:
        return None
    pil_steps = steps[:-3]
    if any(not isinstance(s, v2.Transform) for s in pil_steps):
        return None
    return SplitTransform(v2.Compose(pil_steps), tuple(float(m) for m in normalize.mean),
                          tuple(float(s) for s in normalize.std))


def to_float_batch(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> "torch.Tensor":
    """``(N, H, W, 3)`` uint8 → normalised float32 ``(N, 3, H, W)`` in channels-last memory format.

    The same float32 arithmetic, element by element, as ``PILToTensor → ToDtype(float32, scale=True) → Normalize``
    (scale by 1/255, subtract the mean, divide by the std), so the numbers are bit for bit the same. It runs in
    NumPy, on one thread and without torch's thread pool: the image loader thread calls it while the model
    computes, and it is twice as fast as the same steps in torch on 2 threads.
    """
    import torch

    n, h, w, c = images.shape
    out = np.empty(images.shape, dtype=np.float32)
    rows = out.reshape(n * h, w * c)  # a mean and std per channel, tiled along a row: long inner loops
    np.multiply(images.reshape(n * h, w * c), np.float32(1 / 255), out=rows, dtype=np.float32)
    rows -= np.tile(np.asarray(mean, dtype=np.float32), w)
    rows /= np.tile(np.asarray(std, dtype=np.float32), w)
    return torch.from_numpy(out).permute(0, 3, 1, 2)  # keeps the channels-last strides


def _as_rgb_array(image: "Image.Image") -> np.ndarray:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def batched_images(ws: Workspace, hashes: Sequence[str], transform: Callable[["Image.Image"], "torch.Tensor"],
                   batch_size: int = FEATURE_BATCH, seeds: Sequence[int] | None = None,
                   prefetch: int = 2) -> Iterator["torch.Tensor"]:
    """Load and transform stored images, yielding normalised float batches in order.

    Decoding, the transform's PIL steps and the conversion to float (once per batch) run in a background thread
    (``prefetch`` batches ahead; 0 = in the caller's thread), overlapping with the model's compute, so the
    caller's thread only runs the model. With ``seeds``, the torch RNG is seeded per image before its transform, so
    random augmentations depend neither on batching nor on order, and the caller's RNG stream is left as it was;
    pass ``prefetch=0`` then if the caller draws random numbers meanwhile (dropout), since the RNG is global.
    """
    import torch

    from tlcore.data import load_image

    split = split_transform(transform)

    def one(h: str) -> Any:
        image = load_image(ws, h)
        return _as_rgb_array(split.pil(image)) if split is not None else transform(image)

    def make_batch(chunk: Sequence[str], chunk_seeds: Sequence[int] | None) -> Any:
        if chunk_seeds is None:
            items = [one(h) for h in chunk]
        else:
            with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is left as it was
                items = []
                for h, seed in zip(chunk, chunk_seeds):
                    torch.manual_seed(int(seed))
                    items.append(one(h))
        if split is None:
            return torch.stack(items)
        return to_float_batch(np.stack(items), split.mean, split.std)

    chunks = [(hashes[i:i + batch_size], None if seeds is None else seeds[i:i + batch_size])
              for i in range(0, len(hashes), batch_size)]
    if prefetch <= 0 or len(chunks) <= 1:
        for chunk, chunk_seeds in chunks:
            yield make_batch(chunk, chunk_seeds)
        return
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk, chunk_seeds in chunks:
                if stop.is_set():
                    return
                q.put(("ok", make_batch(chunk, chunk_seeds)))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(("error", exc))
            return
        q.put(("end", None))

    thread = threading.Thread(target=produce, name="tlcore-image-loader", daemon=True)
    thread.start()
    try:
        while True:
            status, item = q.get()
            if status == "end":
                return
            if status == "error":
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
