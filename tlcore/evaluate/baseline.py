"""The traditional baseline that needs no deep learning: logistic regression on the raw pixels.

Every stored image is resized (bilinear, antialiased, aspect ratio not kept) to ``PIXEL_SIDE`` × ``PIXEL_SIDE`` RGB,
flattened to ``3 * PIXEL_SIDE**2`` values in [0, 1], standardised per pixel on the training folds, and fed to
scikit-learn's multinomial ``LogisticRegression`` (L2, ``C``). It is trained on the whole training part of each
fold (it has no epochs, so it needs no early-stopping hold-out) and scored on the same held-out fold as the deep
strategies. On tiny images far from photographs (the 8×8 digits demo) it is a strong opponent.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np

from tlcore.data import Dataset, load_image
from tlcore.evaluate.choices import PIXELS, PIXELS_LABEL
from tlcore.evaluate.cv import Steps
from tlcore.evaluate.folds import subsample, training_part
from tlcore.evaluate.results import FoldResult, StrategyResult
from tlcore.events import CancelToken, EventCallback, Message, ProgressTimer, ignore_event
from tlcore.metrics import classification_metrics
from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

PIXEL_SIDE = 32  # images become 32x32 RGB: 3,072 features
C = 1.0  # inverse L2 regularisation strength
MAX_ITER = 2000


def pixel_matrix(ws: Workspace, dataset: Dataset, side: int = PIXEL_SIDE, on_event: EventCallback = ignore_event,
                 cancel: CancelToken | None = None) -> np.ndarray:
    """One row of ``3 * side**2`` pixel values in [0, 1] per record (each distinct image decoded once)."""
    from PIL import Image

    hashes = dataset.hashes
    unique = list(dict.fromkeys(hashes))
    rows: dict[str, np.ndarray] = {}
    timer = ProgressTimer("pixels", len(unique), on_event)
    for n, h in enumerate(unique, 1):
        if cancel is not None and n % 64 == 0:
            cancel.raise_if_cancelled()
        image = load_image(ws, h).resize((side, side), Image.Resampling.BILINEAR)
        rows[h] = np.asarray(image, dtype=np.float32).reshape(-1) / 255.0
        timer.update(n)
    return np.stack([rows[h] for h in hashes]) if hashes else np.zeros((0, 3 * side * side), dtype=np.float32)


def baseline_settings() -> dict[str, object]:
    """What the baseline does, for the run record and the comparison table."""
    return {"model": "LogisticRegression (multinomial, L2)", "C": C, "max_iter": MAX_ITER,
            "input": f"{PIXEL_SIDE}x{PIXEL_SIDE} RGB pixels, standardised", "features": 3 * PIXEL_SIDE * PIXEL_SIDE}


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_classes: int, seed: int = 0
                ) -> tuple[np.ndarray, int]:
    """Fit the baseline; return held-out probabilities (columns = all classes) and its coefficient count."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    present = np.unique(y_train)
    probs = np.zeros((len(x_test), n_classes), dtype=np.float32)
    if len(present) == 1:  # one class only: it is the prediction
        probs[:, present[0]] = 1.0
        return probs, 0
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed))
    model.fit(x_train, y_train)
    clf = model[-1]
    probs[:, clf.classes_] = model.predict_proba(x_test)
    return probs, int(clf.coef_.size + clf.intercept_.size)


def pixel_baseline(ws: Workspace, dataset: Dataset, folds: Sequence[np.ndarray], seed: int = 0,
                   fraction: float = 1.0, on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
                   steps: Steps | None = None, pixels: np.ndarray | None = None) -> StrategyResult:
    """Evaluate the raw-pixel logistic regression on each fold (same folds as the deep strategies).

    Args:
        ws: workspace with the images.
        dataset: the dataset the folds index.
        folds: held-out record indices per fold.
        seed: seeds the training-data subsample (and the solver).
        fraction: share of each fold's training part to use (subsampled as in :func:`tlcore.evaluate.cv.run_folds`).
        on_event: progress events.
        cancel: checked between folds.
        steps: overall progress shared with the other strategies.
        pixels: a precomputed :func:`pixel_matrix` (the curve reuses one for all fractions).
    """
    cancel = cancel or CancelToken()
    steps = steps or Steps(len(folds), on_event)
    started = time.perf_counter()
    x = pixels if pixels is not None else pixel_matrix(ws, dataset, on_event=on_event, cancel=cancel)
    labels, n_classes, k = dataset.labels, len(dataset.classes), len(folds)
    results: list[FoldResult] = []
    for i, held_out in enumerate(folds):
        cancel.raise_if_cancelled()
        label = f"{PIXELS}: fold {i + 1}/{k}"
        steps.start(label)
        fold_start = time.perf_counter()
        train_idx = training_part(folds, i)
        if fraction < 1:
            train_idx = subsample(dataset, train_idx, fraction, (seed, i, 7))
        probs, n_params = fit_predict(x[train_idx], labels[train_idx], x[held_out], n_classes, seed)
        metrics = classification_metrics(labels[held_out], probs, dataset.classes)
        seconds = time.perf_counter() - fold_start
        results.append(FoldResult(fold=i + 1, n_train=len(train_idx), n_val=0, n_test=len(held_out),
                                  metrics=metrics, probs=probs, seconds=seconds, trainable_params=n_params,
                                  cache_mode="pixels", timings={"train": seconds}))
        steps.finish(label)
        on_event(Message(f"{label}: held-out accuracy {metrics['accuracy']:.3f} on {len(held_out)} images"))
    return StrategyResult(PIXELS, PIXELS_LABEL, baseline_settings(), results,
                          time.perf_counter() - started)
