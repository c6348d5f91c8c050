"""Evaluation records: a saved cv record is listed, holds the per-fold tables and out-of-fold probabilities, and its
folds reproduce the run."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SeededFactory, tiny_config
from tlcore.evaluate.cv import cross_validate
from tlcore.evaluate.records import folds_from_record, save_evaluation
from tlcore.evaluate.tables import cv_csv
from tlcore.runs.records import get_run, list_runs


def test_the_record_is_saved_listed_and_its_folds_reproduce_the_run(ws, dataset):
    config = tiny_config(epochs=2)
    result = cross_validate(ws, dataset, config, k=3, backbone_factory=SeededFactory())
    run_id = save_evaluation(ws, result, label="check")
    [info] = list_runs(ws, kind="cv")
    assert info.id == run_id and info.strategy == "feature-extraction"
    assert info.test_accuracy == pytest.approx(result.summary["accuracy"]["mean"])
    record = get_run(ws, run_id)
    assert record["k"] == 3 and len(record["result"]["fold_metrics"]) == 3
    assert len(record["result"]["per_class"]) == 9 and len(record["result"]["histories"]) == 3
    assert np.sum(record["result"]["confusion_sum"]) == 27
    oof = np.load(ws.runs / run_id / "oof_probs.npy")
    assert oof.shape == (27, 3) and not np.isnan(oof).any()
    csv = cv_csv(record).splitlines()
    assert csv[0].startswith("fold,n_train,n_val,n_test,accuracy") and len(csv) == 1 + 3 + 4
    again = cross_validate(ws, dataset, config, folds=folds_from_record(record), backbone_factory=SeededFactory())
    recorded = [r["accuracy"] for r in record["result"]["fold_metrics"]]
    assert [f.metrics["accuracy"] for f in again.result.folds] == recorded
