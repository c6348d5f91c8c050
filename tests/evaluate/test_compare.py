"""Strategy comparison, the verdict in plain words, the raw-pixel baseline and the data-efficiency curve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.synthetic import write_class_folder
from tests.conftest import TINY, SeededFactory, tiny_config
from tlcore.data import import_folder
from tlcore.errors import TlcoreError
from tlcore.evaluate.baseline import PIXEL_SIDE, pixel_matrix
from tlcore.evaluate.compare import (
    compare_strategies,
    comparison_csv,
    curve_csv,
    curve_points,
    data_efficiency_curve,
    save_comparison,
    save_curve,
    verdict,
)
from tlcore.evaluate.cv import FoldResult, StrategyResult
from tlcore.runs.store import get_run, list_runs
from tlcore.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def dataset(ws, tmp_path):
    ds, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=9, size=16))
    return ds


def fake(strategy: str, accuracies: list[float]) -> StrategyResult:
    folds = [FoldResult(fold=i + 1, n_train=10, n_val=0, n_test=5, metrics={"accuracy": a, "balanced_accuracy": a,
                                                                           "macro_f1": a, "log_loss": 1 - a},
                        probs=np.zeros((5, 2)), seconds=1.0, trainable_params=10) for i, a in enumerate(accuracies)]
    labels = {"feature-extraction": "feature extraction", "scratch": "from scratch",
              "pixels": "raw pixels + logistic regression"}
    return StrategyResult(strategy, labels[strategy], {}, folds, 5.0)


def test_a_lead_on_every_fold_beyond_the_spread_is_a_clear_winner():
    fe = fake("feature-extraction", [0.90, 0.92, 0.91, 0.93, 0.89])
    scratch = fake("scratch", [0.78, 0.80, 0.79, 0.80, 0.77])
    v = verdict([scratch, fe], "accuracy")
    assert v.best == "feature-extraction" and v.runner_up == "scratch" and v.clear and v.wins == 5
    assert v.difference == pytest.approx(0.122)
    assert "feature extraction beats from scratch by 12.2 points of accuracy" in v.text
    assert "better on 5 of 5 folds" in v.text and "a clear winner" in v.text
    assert v.transfer_text.startswith("Transfer learning helps on this data")


def test_a_lead_within_the_fold_spread_is_no_clear_winner():
    fe = fake("feature-extraction", [0.90, 0.80, 0.95, 0.70, 0.85])
    scratch = fake("scratch", [0.85, 0.86, 0.80, 0.78, 0.84])
    v = verdict([fe, scratch], "accuracy")
    assert v.best == "feature-extraction" and not v.clear
    assert "within the fold-to-fold spread" in v.text and "no clear winner" in v.text
    assert v.transfer_text.startswith("Transfer learning is not clearly better here")


def test_when_raw_pixels_win_the_verdict_says_transfer_does_not():
    fe = fake("feature-extraction", [0.80, 0.82, 0.81])
    pixels = fake("pixels", [0.95, 0.96, 0.97])
    v = verdict([fe, pixels], "accuracy")
    assert v.best == "pixels" and v.clear
    assert "Transfer learning does not win on this data" in v.transfer_text
    lower = verdict([fe, pixels], "log_loss")  # lower is better: pixels' log loss (1 - accuracy) is lower
    assert lower.best == "pixels" and "lower log loss than feature extraction" in lower.text


def test_pixel_matrix_has_one_row_of_32x32_rgb_values_per_image(ws, dataset):
    x = pixel_matrix(ws, dataset)
    assert x.shape == (27, 3 * PIXEL_SIDE * PIXEL_SIDE) and 0 <= x.min() and x.max() <= 1
    red = dataset.classes.index("red")
    mean_rgb = x[dataset.labels == red].reshape(-1, PIXEL_SIDE * PIXEL_SIDE, 3).mean(axis=(0, 1))
    assert mean_rgb[0] > 0.6 and mean_rgb[2] < 0.3  # the synthetic red class is red


def test_comparison_runs_every_strategy_on_the_same_folds(ws, dataset):
    factory = SeededFactory()
    result = compare_strategies(ws, dataset, tiny_config(epochs=2), ["feature-extraction", "scratch", "pixels"], k=3,
                                backbone_factory=factory, overrides={"scratch": {"epochs": 1}})
    assert [r.strategy for r in result.results] == ["feature-extraction", "scratch", "pixels"]
    sizes = [[f.n_test for f in r.folds] for r in result.results]
    assert sizes[0] == sizes[1] == sizes[2] == [9, 9, 9]
    pixels = result.results[2]
    assert pixels.summary["accuracy"]["mean"] == 1.0  # colour classes: trivially separable from pixels
    assert pixels.trainable_params == 3 * (3 * PIXEL_SIDE * PIXEL_SIDE) + 3
    assert [len(f.history) for f in result.results[1].folds] == [1, 1, 1]  # the scratch override applied
    run_id = save_comparison(ws, result)
    record = get_run(ws, run_id)
    rows = record["rows"]
    assert [r["strategy"] for r in rows] == ["feature-extraction", "scratch", "pixels"]
    assert sum(r["best"] for r in rows) == 1 and rows[[r["strategy"] for r in rows].index(result.verdict.best)]["best"]
    for key in ("accuracy", "accuracy_ci", "macro_f1", "log_loss", "seconds", "trainable_params", "gap_to_best",
                "clearly_worse", "epochs"):
        assert key in rows[0]
    assert rows[1]["epochs"] == 1 and rows[0]["epochs"] == 2
    assert record["verdict"]["text"] and [r.id for r in list_runs(ws, kind="compare")] == [run_id]
    header = comparison_csv(record).splitlines()[0].split(",")
    assert header[:4] == ["strategy", "label", "best", "accuracy"] and len(comparison_csv(record).splitlines()) == 4
    assert (ws.runs / run_id / "oof_probs_pixels.npy").is_file()


def test_unknown_strategies_and_bad_overrides_are_refused_before_anything_runs(ws, dataset):
    with pytest.raises(TlcoreError, match="unknown strategy 'magic'"):
        compare_strategies(ws, dataset, tiny_config(), ["feature-extraction", "magic"], k=3)
    with pytest.raises(TlcoreError, match="'epoch'"):
        compare_strategies(ws, dataset, tiny_config(), ["scratch"], k=3, overrides={"scratch": {"epoch": 2}})
    with pytest.raises(TlcoreError, match="fractions"):
        data_efficiency_curve(ws, dataset, tiny_config(), ["pixels"], fractions=[0.0, 0.5], k=3)


def test_curve_has_a_row_per_strategy_fraction_and_fold_and_reuses_the_feature_cache(ws, dataset):
    factory = SeededFactory()
    result = data_efficiency_curve(ws, dataset, tiny_config(epochs=2), ["feature-extraction", "pixels"],
                                   fractions=[1.0, 0.34], k=3, backbone_factory=factory)
    assert len(result.rows) == 2 * 2 * 3
    assert factory.images_seen == 27  # every fraction and fold reads the features cached on the first pass
    points = curve_points(result.rows, "accuracy")
    assert [(p["strategy"], p["fraction"]) for p in points] == [
        ("feature-extraction", 0.34), ("feature-extraction", 1.0), ("pixels", 0.34), ("pixels", 1.0)]
    # 18 training images per fold = 6 per class; 34% keeps round(6 * 0.34) = 2 per class
    assert [p["images_per_class"] for p in points] == [2.0, 6.0, 2.0, 6.0]
    assert all(p["n"] == 3 for p in points)
    run_id = save_curve(ws, result)
    record = get_run(ws, run_id)
    assert [r.id for r in list_runs(ws, kind="curve")] == [run_id]
    lines = curve_csv(record).splitlines()
    assert lines[0].startswith("strategy,label,fraction,images_per_class,metric,mean,std") and len(lines) == 5


def test_compare_job_and_cli_give_the_same_numbers(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main
    from tlcore.jobs.manager import JobManager
    from tlcore.train.loop import config_to_dict

    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")
    config = tiny_config(epochs=1)
    with JobManager(ws) as jobs:
        job_id = jobs.submit("compare", {"dataset_id": dataset.id, "config": config_to_dict(config), "folds": 3,
                                         "strategies": ["feature-extraction", "pixels"]}, owner="me")
        status = jobs.wait(job_id, timeout=180)
    assert status.state == "done", status.error
    job_record = get_run(ws, status.result["run_id"])
    args = ["compare", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "3",
            "--strategies", "feature-extraction,pixels", "--epochs", "1", "--batch-size", "8", "--patience", "0",
            "--no-augment", "--image-size", "32", "--val-fraction", "0.2", "--lr", "0.01", "--fine-tune-groups", "2",
            "--unfreeze-every", "1", "--test-fraction", "0.2", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "compare" and [s["strategy"] for s in out["strategies"]] == ["feature-extraction", "pixels"]
    assert len(out["strategies"][0]["fold_metrics"]) == 3 and out["verdict"]["text"]
    for cli_block, job_block in zip(out["strategies"], job_record["strategies"]):
        assert [r["accuracy"] for r in cli_block["fold_metrics"]] == pytest.approx(
            [r["accuracy"] for r in job_block["fold_metrics"]])
    assert job_record["folds"] == get_run(ws, out["run_id"])["folds"]


def test_curve_cli_prints_points_and_rows(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main

    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")
    assert main(["curve", "--workspace", str(ws.root), "--dataset", dataset.id, "--strategies", "pixels",
                 "--fractions", "0.5,1", "--folds", "3", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "curve" and len(out["points"]) == 2 and len(out["rows"]) == 6
    assert out["points"][1]["mean"] == 1.0
