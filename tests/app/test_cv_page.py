"""Cross-validation page: empty state, a k-fold job end to end (numbers equal the engine's), a comparison with its
verdict, a data-efficiency curve, and the k limit from the smallest class."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import TINY, markdowns, open_page, run_until, tiny_train_config

CV = "pages/7_Cross_validation.py"


def quick(at, mode: str, k: int = 3):
    at.radio(key="cv-mode").set_value(mode)
    at.run()
    at.selectbox(key="train-backbone").set_value(TINY)
    at.number_input(key="cv-k").set_value(k)
    at.number_input(key="cv-epochs").set_value(2)
    return at.run()


def has_results(at) -> bool:
    return any(s.value == "Results" for s in at.subheader)


def record_of(ws, at) -> dict:
    [run] = [p for p in ws.runs.iterdir() if (p / "run.json").is_file()]
    return json.loads((run / "run.json").read_text())


def test_without_a_dataset_the_page_says_what_to_do(ws):
    at = open_page(CV)
    assert not at.exception
    assert any("No dataset yet" in s for s in markdowns(at))


def test_k_is_limited_by_the_smallest_class(ws, dataset):
    at = open_page(CV, tl_dataset_id=dataset.id)
    assert not at.exception
    assert at.number_input(key="cv-k").max == 10 and at.number_input(key="cv-k").value == 5
    assert any("smallest class: 10 distinct images" in t.value for t in at.text)


def test_a_k_fold_job_shows_per_fold_results_equal_to_the_engine(ws, dataset):
    from tlcore.evaluate.cv import cross_validate

    at = open_page(CV, tl_dataset_id=dataset.id, tl_train_config=tiny_train_config())
    at = quick(at, "Cross-validate one strategy")
    at.button(key="cv-start").click().run()
    assert not at.exception
    run_until(at, has_results)
    assert not at.exception
    record = record_of(ws, at)
    assert record["kind"] == "cv" and record["k"] == 3 and record["config"]["epochs"] == 2
    folds = at.dataframe[0].value
    assert list(folds["fold"]) == [1, 2, 3] and sum(folds["n_test"]) == 30
    cards = {m.label: m.value for m in at.metric}
    assert cards["accuracy (mean ± 95% CI)"].startswith(f"{record['result']['summary']['accuracy']['mean'] * 100:.1f}%")
    assert at.selectbox(key=f"cv-{record['id']}-cm-pick").options[0] == "all folds (summed)"
    from tlcore.train.config import config_from_dict

    direct = cross_validate(ws, dataset, config_from_dict(record["config"]), k=3)
    assert list(folds["accuracy"]) == pytest.approx([f.metrics["accuracy"] for f in direct.result.folds])
    assert [b.label for b in at.get("download_button")][:1] == ["Chart as HTML"]


def test_a_comparison_names_the_best_and_says_whether_it_is_clear(ws, dataset):
    at = open_page(CV, tl_dataset_id=dataset.id, tl_train_config=tiny_train_config())
    at = quick(at, "Compare strategies")
    at.multiselect(key="cv-strategies").set_value(["feature-extraction", "pixels"])
    at.run()
    at.button(key="cv-start").click().run()
    run_until(at, has_results)
    assert not at.exception
    record = record_of(ws, at)
    assert record["kind"] == "compare" and [b["strategy"] for b in record["strategies"]] == ["feature-extraction",
                                                                                           "pixels"]
    verdicts = [a.value for a in (*at.success, *at.info)]
    assert record["verdict"]["text"] in verdicts and "fold-to-fold spread" in record["verdict"]["text"]
    table = at.dataframe[0].value
    assert list(table["label"]) == ["feature extraction", "raw pixels + logistic regression"]
    assert table["best"].sum() == 1


def test_a_data_efficiency_curve_lists_its_points(ws, dataset):
    at = open_page(CV, tl_dataset_id=dataset.id, tl_train_config=tiny_train_config())
    at = quick(at, "Data-efficiency curve")
    at.multiselect(key="cv-strategies").set_value(["pixels"])
    at.multiselect(key="cv-fractions").set_value([0.5, 1.0])
    at.run()
    at.button(key="cv-start").click().run()
    run_until(at, has_results)
    assert not at.exception
    record = record_of(ws, at)
    assert record["kind"] == "curve" and record["fractions"] == [0.5, 1.0]
    points = at.dataframe[0].value
    assert list(points["fraction"]) == [0.5, 1.0] and list(points["n"]) == [3, 3]
    small, full = points["images_per_class"]
    assert full == 6.7 and 3 <= small <= 4  # each fold trains on 20 of 30 (6.7 a class, shown rounded); half: 3-4
