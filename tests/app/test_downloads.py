"""CSV downloads on every page: a class, file or dataset name such as ``=HYPERLINK(...)`` opens in a spreadsheet as
text (``ui.downloads``: every cell through ``tlcore.safe_text``), and each table people want as a file has a button."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import class_zip, csv_downloads, formula_cells, open_page, tiny_train_config

COLOURS = {"red": '=HYPERLINK("evil.example","x")', "green": "@SUM(A1)", "blue": "-1+2"}  # folder -> class name
DATASET_NAME = "=cmd|' /C calc'!A0"


def cells(rows: list[list[str]]) -> set[str]:
    return {c for row in rows for c in row}


def assert_safe(files: dict[str, list[list[str]]], *labels: str) -> None:
    assert set(labels) <= set(files), sorted(files)
    for label in labels:
        assert formula_cells(files[label]) == [], (label, files[label])


@pytest.fixture
def dataset(ws, tmp_path):
    """Three colour classes named like spreadsheet formulas, under a formula-like dataset name."""
    from tests.synthetic import write_class_folder
    from tlcore.data import import_folder

    root = write_class_folder(tmp_path / "imgs", n_per_class=10, size=24)
    for colour, name in COLOURS.items():
        (root / colour).rename(root / name)
    ds, _ = import_folder(ws, root, name=DATASET_NAME)
    assert set(ds.classes) == set(COLOURS.values())
    return ds


def run_view(record: dict) -> None:
    from ui import results

    results.render_run(record)


def test_per_class_metrics_and_confused_pairs_download_as_text(ws, dataset, run_id, served):
    from tlcore.runs.records import get_run

    record = get_run(ws, run_id)
    record["test_metrics"]["confusion"] = [[2, 1, 0], [0, 3, 0], [1, 0, 2]]  # some confusions, whatever it learnt
    at = AppTest.from_function(run_view, args=(record,), default_timeout=60)
    at.run()
    assert not at.exception
    files = csv_downloads(at, served)
    assert_safe(files, "Per-class metrics (CSV)", "Most-confused pairs (CSV)")
    assert {"'" + c for c in COLOURS.values()} <= cells(files["Per-class metrics (CSV)"])  # the names, shown as text
    assert {"'" + c for c in COLOURS.values()} & cells(files["Most-confused pairs (CSV)"])
    assert "support" in files["Per-class metrics (CSV)"][0] and "1" in cells(files["Most-confused pairs (CSV)"])


def test_skipped_files_download_as_text(ws, served):
    data = class_zip({"cats": (200, 40, 40), "dogs": (40, 60, 200)}, n_per_class=4,
                     extra={"cats/=HYPERLINK(1).png": b"not an image", "@SUM(A1).txt": b"hello"})
    at = open_page("pages/2_Data.py")
    at.file_uploader(key="data-upload-0").set_value([("pets.zip", data, "application/zip")])
    at.run()
    at.button(key="data-import").click().run()
    assert not at.exception
    files = csv_downloads(at, served)
    assert_safe(files, "Skipped files (CSV)")
    assert {"cats/=HYPERLINK(1).png", "@SUM(A1).txt"} <= set(at.dataframe[0].value["file"])  # shown as typed
    assert {"'@SUM(A1).txt"} <= cells(files["Skipped files (CSV)"])


def test_predictions_and_the_runs_table_download_as_text(ws, dataset, run_id, served):
    at = open_page("pages/4_Predict.py", tl_dataset_id=dataset.id, tl_run_id=run_id)
    at.radio(key="predict-source").set_value("Images from the run's test split").run()
    at.button(key="predict-go").click().run()
    assert not at.exception
    files = csv_downloads(at, served)
    assert_safe(files, "Predictions (CSV)")
    assert cells(files["Predictions (CSV)"]) & {"'" + c for c in COLOURS.values()}

    at = open_page("pages/6_Runs.py")
    assert not at.exception
    files = csv_downloads(at, served)
    assert_safe(files, "Runs table (CSV)")
    assert "'" + DATASET_NAME in cells(files["Runs table (CSV)"])


def test_cross_validation_tables_download_as_text(ws, dataset, served):
    from tlcore.evaluate.compare import compare_strategies
    from tlcore.evaluate.records import save_evaluation
    from tlcore.runs.records import get_run

    result = compare_strategies(ws, dataset, tiny_train_config(), ["pixels"], k=2)
    record = get_run(ws, save_evaluation(ws, result))

    def cv_view(record: dict) -> None:
        from ui import cv_views

        cv_views.render(record)

    at = AppTest.from_function(cv_view, args=(record,), default_timeout=60)
    at.run()
    assert not at.exception
    files = csv_downloads(at, served)
    assert_safe(files, "Comparison table (CSV)", "Per-fold metrics (CSV)", "Per-class metrics (CSV)")
    assert {"'" + c for c in COLOURS.values()} <= cells(files["Per-class metrics (CSV)"])
