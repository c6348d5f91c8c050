"""Statistics over folds: mean, spread and t-intervals, paired differences, and which value of a metric is better.

Torch-free; scipy is imported inside :func:`summarize_values`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from tlcore.errors import TlcoreError
from tlcore.metrics import SUMMARY_KEYS

CONFIDENCE = 0.95
METRICS = SUMMARY_KEYS  # accuracy, balanced_accuracy, macro_f1, log_loss
LOWER_IS_BETTER = frozenset({"log_loss"})


def summarize_values(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean, sample standard deviation (ddof=1) and a t-distribution confidence interval of the mean.

    NaN values are left out; ``n`` says how many counted.
    """
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half, "ci_half_width": half, "n": n}


def check_metric(metric: str) -> str:
    """``metric`` if it is one the folds report."""
    if metric not in METRICS:
        raise TlcoreError(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
    return metric


def better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is a better value of ``metric`` than ``b``."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def metric_sign(metric: str) -> int:
    """+1 where a higher value of ``metric`` is better, -1 where a lower one is (log loss)."""
    return -1 if metric in LOWER_IS_BETTER else 1


def clearly_better(diff: Mapping[str, float], metric: str) -> bool:
    """Whether a paired difference (a - b, from :func:`paired_difference`) says a is better beyond the fold spread:
    its 95% interval lies wholly on the better side of zero."""
    mean, half = metric_sign(metric) * diff["mean"], diff["ci_half_width"]
    return bool(not math.isnan(half) and mean - half > 0)


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean and 95% t-interval of the per-fold differences ``a - b`` (NaN folds left out)."""
    return summarize_values(list(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))
