"""Tables of evaluation records: pandas frames for the page and the CSV files saved with each run.

Torch-free; pandas is imported inside the functions. Each function reads a record (or one strategy block of it) as
:mod:`tlcore.evaluate.records` writes it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from tlcore.evaluate.statistics import METRICS
from tlcore.safe_text import csv_text


def _csv(frame: Any) -> str:
    """A DataFrame (or a list of row dicts) as CSV text, without the index, every cell safe to open in a spreadsheet
    (:func:`tlcore.safe_text.csv_text`: a label such as ``=HYPERLINK(...)`` is written as text)."""
    import pandas as pd

    return csv_text(frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame))


def fold_frame(block: Mapping[str, Any]):
    """The per-fold table of a strategy block (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(block["fold_metrics"])


def summary_frame(block: Mapping[str, Any]):
    """Mean, std and 95% CI per metric of a strategy block (a pandas DataFrame)."""
    import pandas as pd

    rows = [{"metric": m, **block["summary"][m]} for m in METRICS]
    return pd.DataFrame(rows, columns=["metric", "mean", "std", "ci_low", "ci_high", "ci_half_width", "n"])


def per_class_frame(block: Mapping[str, Any]):
    """Per-class precision/recall/F1/support on each fold (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(block["per_class"], columns=["fold", "class", "precision", "recall", "f1", "support"])


def cv_csv(record: Mapping[str, Any]) -> str:
    """The per-fold table of a cv record as CSV text, with mean/std/CI rows appended."""
    import pandas as pd

    block = record["result"]
    extra = [{"fold": stat, **{m: block["summary"][m][stat] for m in METRICS}}
             for stat in ("mean", "std", "ci_low", "ci_high")]
    return _csv(pd.concat([fold_frame(block), pd.DataFrame(extra)], ignore_index=True))


def comparison_csv(record: Mapping[str, Any]) -> str:
    """The comparison table as CSV text."""
    return _csv(record["rows"])


def comparison_folds_csv(record: Mapping[str, Any]) -> str:
    """Every strategy's per-fold metrics as CSV text (one row per strategy and fold)."""
    return _csv([{"strategy": b["strategy"], **r} for b in record["strategies"] for r in b["fold_metrics"]])


def curve_csv(record: Mapping[str, Any]) -> str:
    """The curve's points (mean, std, CI per strategy and fraction) as CSV text."""
    return _csv(record["points"])


def curve_folds_csv(record: Mapping[str, Any]) -> str:
    """The curve's per-fold rows (one per strategy, fraction and fold) as CSV text."""
    return _csv(record["rows"])


# The CSV files saved with each kind of evaluation record: file name -> table.
Table = Callable[[Mapping[str, Any]], str]
CSV_FILES: dict[str, tuple[tuple[str, Table], ...]] = {
    "cv": (("folds.csv", cv_csv),),
    "compare": (("comparison.csv", comparison_csv), ("folds.csv", comparison_folds_csv)),
    "curve": (("curve.csv", curve_csv), ("curve_folds.csv", curve_folds_csv)),
}
