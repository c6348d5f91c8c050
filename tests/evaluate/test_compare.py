"""Strategy comparison on shared folds, and the verdict in plain words."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SeededFactory, tiny_config
from tlcore.errors import TlcoreError
from tlcore.evaluate.baseline import PIXEL_SIDE
from tlcore.evaluate.compare import compare_strategies, verdict
from tlcore.evaluate.curve import data_efficiency_curve
from tlcore.evaluate.records import save_evaluation
from tlcore.evaluate.results import FoldResult, StrategyResult
from tlcore.evaluate.tables import comparison_csv
from tlcore.runs.records import get_run, list_runs


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
    run_id = save_evaluation(ws, result)
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
