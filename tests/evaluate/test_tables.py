"""The CSV files of evaluation records (tlcore.evaluate.tables): cells a spreadsheet would run are written as text."""

from __future__ import annotations

import csv
import io

import pytest

from tlcore.evaluate.statistics import METRICS
from tlcore.evaluate.tables import CSV_FILES

HOSTILE = '=HYPERLINK("http://evil.example","click")'


def _summary() -> dict:
    return {m: {"mean": 0.5, "std": 0.1, "ci_low": -0.25, "ci_high": 0.75, "ci_half_width": 0.5, "n": 2}
            for m in METRICS}


def _fold(fold, **extra) -> dict:
    return {"fold": fold, **{m: -0.5 if m == "log_loss" else 0.5 for m in METRICS}, "n_test": 3, **extra}


def _block(strategy: str) -> dict:
    return {"strategy": strategy, "label": HOSTILE, "fold_metrics": [_fold(0, note="@note"), _fold(1, note="+1")],
            "summary": _summary()}


RECORDS = {
    "cv": {"result": _block("feature-extraction")},
    "compare": {"rows": [{"strategy": "-x", "label": HOSTILE, "accuracy": -0.5}],
                "strategies": [_block("\t=cmd"), _block("scratch")]},
    "curve": {"points": [{"strategy": "scratch", "label": HOSTILE, "fraction": 0.5, "mean": -0.5}],
              "rows": [{"strategy": "@SUM(A1)", "fraction": 0.5, "fold": 0, "accuracy": 0.5}]},
}


@pytest.mark.parametrize("kind, name", [(k, n) for k, files in CSV_FILES.items() for n, _ in files])
def test_no_csv_cell_starts_like_a_formula_and_numbers_stay_numbers(kind, name):
    table = dict(CSV_FILES[kind])[name]
    rows = list(csv.reader(io.StringIO(table(RECORDS[kind]))))
    cells = [c for row in rows for c in row]
    text_cells = [c for c in cells if c and not _is_number(c)]
    assert text_cells and not [c for c in text_cells if c[0] in "=+-@\t\r"], cells
    assert any(c.startswith("'") for c in cells)  # each table holds a hostile cell, now quoted
    assert any(c.startswith("-") and _is_number(c) for c in cells) or kind == "curve" and name == "curve_folds.csv"


def test_a_hostile_label_is_kept_readable_after_the_quote():
    text = dict(CSV_FILES["compare"])["comparison.csv"](RECORDS["compare"])
    assert list(csv.reader(io.StringIO(text)))[1] == ["'-x", "'" + HOSTILE, "-0.5"]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
