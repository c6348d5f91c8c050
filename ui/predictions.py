"""The Predict page's work: gather images (uploads or a run's test split), classify them, show the top-k."""

from __future__ import annotations

import io
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import pandas as pd
import streamlit as st

from tlcore.errors import TlcoreError
from ui import charts, downloads, images, state

if TYPE_CHECKING:
    from PIL import Image
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from tlcore.runs.store import LoadedRun

log = logging.getLogger(__name__)

MAX_IMAGES = 200
THUMB = 128


@dataclass(frozen=True)
class PredictionSet:
    """What the page shows: per image its name, thumbnail, true class (test split only) and top-k."""

    run_id: str
    names: tuple[str, ...]
    thumbs: tuple[bytes, ...]
    truth: tuple[str | None, ...]
    top: tuple[tuple[tuple[str, float], ...], ...]
    skipped: tuple[tuple[str, str], ...]  # (file name, reason)


def _thumb(image: "Image.Image") -> bytes:
    small = image.copy()
    small.thumbnail((THUMB, THUMB))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def from_uploads(files: Sequence["UploadedFile"]) -> tuple[list, list[str], list[tuple[str, str]]]:
    """Decode and check uploaded images like an import; return images, names and ``(name, reason)`` skips."""
    from tlcore.data import check_image

    pictures, names, skipped = [], [], []
    for f in files[:MAX_IMAGES]:
        try:
            pictures.append(check_image(io.BytesIO(f.getbuffer())).image)
            names.append(f.name)
        except TlcoreError as e:
            skipped.append((f.name, getattr(e, "reason", str(e))))
    skipped += [(f.name, f"more than {MAX_IMAGES} images at once") for f in files[MAX_IMAGES:]]
    return pictures, names, skipped


def from_test_split(run: "LoadedRun", count: int, seed: int) -> tuple[list, list[str], list[str]]:
    """``count`` random images from the run's test split, with their true classes."""
    from tlcore.data import load_image

    dataset = state.load_dataset_cached(run.dataset_id)
    chosen = random.Random(seed).sample(list(run.split.test), min(count, len(run.split.test)))
    records = [dataset.records[int(i)] for i in chosen]
    ws = state.workspace()
    return ([load_image(ws, r.hash) for r in records], [r.source_name for r in records],
            [dataset.classes[r.label] for r in records])


def predict(run: "LoadedRun", pictures: list, names: list[str], truth: Sequence[str | None], top_k: int,
            skipped: Sequence[tuple[str, str]] = ()) -> PredictionSet:
    """Classify the pictures with the run's model; the result is small enough to keep in session state."""
    from tlcore.evaluate.predict import predict_images

    predictions = predict_images(run, pictures, names, top_k=top_k)
    return PredictionSet(run.id, tuple(names), tuple(_thumb(p) for p in pictures), tuple(truth),
                         tuple(p.top for p in predictions), tuple(skipped))


def render(result: PredictionSet) -> None:
    """A grid of the images with their best guess, a table of the top-k, and one image's top-k as a chart."""
    for name, reason in result.skipped:
        st.text(f"Skipped {name}: {reason}")
    if not result.names:
        return
    captions = []
    for top, truth in zip(result.top, result.truth):
        mark = "" if truth is None else (" ✓" if top[0][0] == truth else f" ✗ (true: {truth})")
        captions.append(f"{top[0][0]} {top[0][1]:.0%}{mark}")
    if any(t is not None for t in result.truth):
        right = sum(top[0][0] == t for top, t in zip(result.top, result.truth))
        st.metric("Correct", f"{right} of {len(result.names)}")
    images.grid(list(result.thumbs), captions, columns=6, width=110)
    rows = []
    for name, top, truth in zip(result.names, result.top, result.truth):
        row = {"image": name, **({"true class": truth} if truth is not None else {})}
        for rank, (cls, p) in enumerate(top, start=1):
            row[f"#{rank}"] = cls
            row[f"p{rank}"] = round(p, 4)
        rows.append(row)
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True)
    downloads.csv_button("Predictions (CSV)", table, f"predictions_{result.run_id}.csv", key="predict-csv")
    pick = st.selectbox("Top-k chart for", range(len(result.names)), format_func=lambda i: result.names[i],
                        key="predict-detail")
    st.image(result.thumbs[pick], width=160)
    st.plotly_chart(charts.topk_figure([c for c, _ in result.top[pick]], [p for _, p in result.top[pick]]),
                    key="predict-topk")
