"""The data-efficiency curve: a row per strategy, fraction and fold, its points, and the feature cache reused."""

from __future__ import annotations

from tests.conftest import SeededFactory, tiny_config
from tlcore.evaluate.curve import curve_points, data_efficiency_curve
from tlcore.evaluate.records import save_evaluation
from tlcore.evaluate.tables import curve_csv
from tlcore.runs.records import get_run, list_runs


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
    run_id = save_evaluation(ws, result)
    record = get_run(ws, run_id)
    assert [r.id for r in list_runs(ws, kind="curve")] == [run_id]
    lines = curve_csv(record).splitlines()
    assert lines[0].startswith("strategy,label,fraction,images_per_class,metric,mean,std") and len(lines) == 5
