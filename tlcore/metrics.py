"""Classification metrics from true labels and predicted probabilities (scikit-learn underneath)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1, log loss, per-class precision/recall/F1/support, confusion matrix.

    Args:
        y_true: true class indices, shape (N,).
        probs: predicted probabilities, shape (N, C), rows summing to 1.
        classes: class names, length C.

    Returns:
        A JSON-ready dict; ``confusion`` is a C×C list of lists (rows = true class, columns = predicted).
    """
    from sklearn import metrics as skm  # here, not at import: the names in this module load light

    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    labels = list(range(len(classes)))
    if len(y_true) == 0:
        return {"n": 0}
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    clipped = np.clip(probs, 1e-12, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(_balanced_accuracy(y_true, y_pred, labels)),
        "macro_f1": float(np.mean(f1)),  # = f1_score(average="macro") over the same labels
        "log_loss": float(skm.log_loss(y_true, clipped, labels=labels)),
        "per_class": [
            {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support)
        ],
        "confusion": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> float:
    """Mean recall over the classes present in ``y_true`` (scikit-learn warns on absent ones)."""
    present = [c for c in labels if np.any(y_true == c)]
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in present]
    return float(np.mean(recalls)) if recalls else float("nan")


SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss")


def most_confused_pairs(confusion: Sequence[Sequence[int]], classes: Sequence[str], top: int = 5) -> list[dict]:
    """The off-diagonal cells with the most images: ``[{"true", "predicted", "count"}]``, largest first."""
    cm = np.asarray(confusion)
    pairs = [(int(cm[i, j]), i, j) for i in range(cm.shape[0]) for j in range(cm.shape[1]) if i != j and cm[i, j]]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [{"true": classes[i], "predicted": classes[j], "count": n} for n, i, j in pairs[:top]]
