"""Images on pages: cached thumbnails of stored images, grids with captions, the augmentation preview.

Streamlit renders image captions as markdown, so every caption (file and class names from uploads) is escaped;
captions are shortened to keep the grid tidy.
"""

from __future__ import annotations

import io
import random
from typing import TYPE_CHECKING, Sequence

import streamlit as st
from PIL import Image

from ui import state
from ui.text import md_escape, shorten

if TYPE_CHECKING:
    from tlcore.data import Dataset
    from tlcore.data.augment import AugmentConfig

THUMB = 128


@st.cache_data(show_spinner=False, max_entries=4096)
def _thumbnail_png(root: str, content_hash: str, side: int) -> bytes:
    from tlcore.data import load_image
    from tlcore.workspace import Workspace

    image = load_image(Workspace(root), content_hash)
    image.thumbnail((side, side), Image.Resampling.LANCZOS if max(image.size) > side else Image.Resampling.NEAREST)
    if max(image.size) < side:  # tiny images (digits are 32 px) are shown blown up, pixels kept sharp
        scale = side // max(image.size)
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def thumbnail(content_hash: str, side: int = THUMB) -> bytes:
    """A PNG thumbnail (longer side ``side``) of a stored image."""
    return _thumbnail_png(str(state.workspace().root), content_hash, side)


def grid(images: Sequence, captions: Sequence[str], columns: int = 6, width: int = THUMB) -> None:
    """Images (PNG bytes or PIL images) in rows of ``columns``; captions are shown as typed (markdown-escaped)."""
    for start in range(0, len(images), columns):
        cols = st.columns(columns)
        for col, image, caption in zip(cols, images[start:start + columns], captions[start:start + columns]):
            col.image(image, caption=md_escape(shorten(caption, 28)), width=width)


def class_samples(dataset: "Dataset", per_class: int = 6, seed: int = 0) -> None:
    """A row of sample images for each class (a seeded random choice), class name as plain text above it."""
    rng = random.Random(seed)
    by_class: dict[int, list] = {}
    for record in dataset.records:
        by_class.setdefault(record.label, []).append(record)
    for label, name in enumerate(dataset.classes):
        records = by_class.get(label, [])
        chosen = rng.sample(records, min(per_class, len(records)))
        st.text(f"{name} — {len(records):,} images")
        grid([thumbnail(r.hash) for r in chosen], [r.source_name for r in chosen], columns=per_class, width=96)


def preview_data_config(input_size: int = 224):
    """Preprocessing used for the augmentation preview: ImageNet statistics at the usual 224 px (display only)."""
    from tlcore.data.preprocess import DataConfig

    return DataConfig(input_size=input_size, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                      interpolation="bicubic", crop_pct=0.875)


def augmentation_preview(content_hash: str, augment: "AugmentConfig", n: int = 6, seed: int = 0) -> None:
    """The original image and ``n`` random views under ``augment``, as training would draw them."""
    from tlcore.data import load_image
    from tlcore.data.augment import NO_AUGMENT, preview_augmentations

    image = load_image(state.workspace(), content_hash)
    config = preview_data_config()
    original = preview_augmentations(image, config, NO_AUGMENT, n=1)[0]
    views = preview_augmentations(image, config, augment, n=n, seed=seed)
    grid([original, *views], ["original (resized)"] + [f"view {i + 1}" for i in range(n)], columns=n + 1, width=110)
