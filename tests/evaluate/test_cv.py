"""Cross-validation: folds (disjoint, covering, stratified, duplicates together), the k check, one backbone pass for a
whole frozen-backbone k-fold run, reproducibility, the saved record, the job kind and the CLI."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter

import numpy as np
import pytest
import torch

from tests.synthetic import write_class_folder
from tests.conftest import TINY, SeededFactory, tiny_config
from tlcore.data import import_folder
from tlcore.errors import DatasetError
from tlcore.evaluate.cv import (
    PristineBackbones,
    carve_validation,
    check_folds,
    cross_validate,
    cv_csv,
    default_backbone_factory,
    folds_from_record,
    make_folds,
    save_cv,
    subsample,
    summarize_values,
    training_part,
)
from tlcore.events import EpochEnd
from tlcore.runs.store import get_run, list_runs
from tlcore.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def dataset(ws, tmp_path):
    root = write_class_folder(tmp_path / "imgs", n_per_class=9, size=16)
    ds, _ = import_folder(ws, root)
    return ds


@pytest.fixture
def dup_dataset(ws, tmp_path):
    """Three classes of 10 images, where 3 images of each class have an identical copy (so 13 records per class)."""
    root = write_class_folder(tmp_path / "dups", n_per_class=10, size=16, seed=3)
    for cls in ("red", "green", "blue"):
        for i in range(3):
            shutil.copy(root / cls / f"{cls}_{i}.png", root / cls / f"{cls}_{i}_copy.png")
    ds, _ = import_folder(ws, root)
    return ds


def test_folds_are_disjoint_cover_every_image_once_and_are_stratified(dataset):
    folds = make_folds(dataset, 3, seed=0)
    joined = np.concatenate(folds)
    assert len(joined) == len(dataset.records) == 27
    assert sorted(joined.tolist()) == list(range(27))
    for fold in folds:
        counts = Counter(dataset.labels[fold].tolist())
        assert counts == {0: 3, 1: 3, 2: 3}  # 9 per class over 3 folds: exactly 3 of each class per fold


def test_folds_are_seeded(dataset):
    a, b = make_folds(dataset, 3, seed=5), make_folds(dataset, 3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = make_folds(dataset, 3, seed=6)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_identical_images_always_share_a_fold(dup_dataset):
    hashes = dup_dataset.hashes
    dup_hashes = {h for h, n in Counter(hashes).items() if n > 1}
    assert len(dup_hashes) == 9
    for seed in range(5):
        folds = make_folds(dup_dataset, 4, seed=seed)
        fold_of = {}
        for i, fold in enumerate(folds):
            for idx in fold:
                assert fold_of.setdefault(hashes[idx], i) == i
        train, val = carve_validation(dup_dataset, training_part(folds, 0), 0.3, seed)
        assert not {hashes[i] for i in train} & {hashes[i] for i in val}
        assert len(train) + len(val) == len(training_part(folds, 0))


def test_more_folds_than_the_smallest_class_has_images_is_refused_by_name(ws, tmp_path):
    root = write_class_folder(tmp_path / "small", n_per_class=6, size=16)
    for extra in range(2, 6):
        (root / "green" / f"green_{extra}.png").unlink()
    ds, _ = import_folder(ws, root, name="uneven")
    with pytest.raises(DatasetError) as info:
        make_folds(ds, 3, seed=0)
    message = str(info.value)
    assert "'green'" in message and "has 2 distinct images" in message and "3-fold" in message
    assert "at most 2 folds" in message
    with pytest.raises(DatasetError, match="at least 2"):
        make_folds(ds, 1, seed=0)


def test_saved_folds_are_checked_against_the_dataset(dataset, dup_dataset):
    folds = make_folds(dataset, 3, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(check_folds(dataset, [f.tolist() for f in folds]), folds))
    with pytest.raises(DatasetError, match="exactly once"):
        check_folds(dataset, [folds[0], folds[1]])
    with pytest.raises(DatasetError, match="exactly once"):
        check_folds(dup_dataset, folds)
    dup_folds = make_folds(dup_dataset, 3, seed=0)
    first_dup = next(i for i, h in enumerate(dup_dataset.hashes) if dup_dataset.hashes.count(h) > 1)
    twin = next(i for i, h in enumerate(dup_dataset.hashes) if h == dup_dataset.hashes[first_dup] and i != first_dup)
    broken = [np.setdiff1d(f, [twin]) for f in dup_folds]
    target = next(j for j, f in enumerate(dup_folds) if first_dup not in f)
    broken[target] = np.sort(np.append(broken[target], twin))
    with pytest.raises(DatasetError, match="same image in different folds"):
        check_folds(dup_dataset, broken)


def test_subsample_is_stratified_nested_and_keeps_one_image_per_class(dataset):
    pool = np.arange(len(dataset.records))
    small = subsample(dataset, pool, 0.1, 0)
    half = subsample(dataset, pool, 0.5, 0)
    assert Counter(dataset.labels[small].tolist()) == {0: 1, 1: 1, 2: 1}
    assert Counter(dataset.labels[half].tolist()) == {0: 4, 1: 4, 2: 4}  # round(9 * 0.5) = 4 per class
    assert set(small) <= set(half)
    assert np.array_equal(subsample(dataset, pool, 1.0, 0), pool)


def test_summary_is_mean_sample_std_and_a_t_interval():
    s = summarize_values([0.8, 0.9, 1.0])
    assert s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    assert s["ci_half_width"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
    assert s["ci_low"] == pytest.approx(0.9 - s["ci_half_width"]) and s["n"] == 3
    assert summarize_values([0.5, float("nan"), 0.7])["n"] == 2


def test_frozen_backbone_k_fold_runs_the_backbone_once_per_image(ws, dataset):
    factory = SeededFactory()
    result = cross_validate(ws, dataset, tiny_config(epochs=2), k=3, backbone_factory=factory)
    assert factory.created == 3  # a fresh model per fold
    assert factory.images_seen == len(set(dataset.hashes)) == 27  # and yet each image went through it only once
    assert [f.cache_mode for f in result.result.folds] == ["features"] * 3
    assert sum(f.n_test for f in result.result.folds) == 27
    for f in result.result.folds:
        assert f.n_train + f.n_val + f.n_test == 27 and f.n_val >= 3  # inner validation: >= 1 image per class


def test_pristine_backbones_are_built_once_shared_when_frozen_and_copied_when_trained(ws, dataset, monkeypatch):
    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")  # tiny timm models with seeded random weights
    frozen, fine = tiny_config(epochs=2), tiny_config("fine-tune", epochs=2)
    factory = PristineBackbones()
    kept = factory(frozen)
    assert factory(frozen) is kept  # feature extraction only runs it frozen
    copied = factory(fine)
    assert copied is not kept and copied.model is not kept.model
    inside = {id(m) for m in copied.model.modules()}
    assert all(id(m) in inside for stage in copied.stages for m in stage)  # the stages run the copy's modules
    before = {k: v.clone() for k, v in kept.model.state_dict().items()}

    reused = cross_validate(ws, dataset, fine, k=3, backbone_factory=factory)
    cross_validate(ws, dataset, frozen, k=3, backbone_factory=factory)
    after = factory(frozen).model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    built = cross_validate(ws, dataset, fine, k=3, backbone_factory=default_backbone_factory)  # a new build per fold
    assert [f.metrics["log_loss"] for f in reused.result.folds] == pytest.approx(
        [f.metrics["log_loss"] for f in built.result.folds], abs=1e-6)


def test_same_seed_gives_the_same_fold_metrics_and_events_carry_the_fold(ws, dataset):
    events = []
    config = tiny_config("fine-tune", epochs=2)
    a = cross_validate(ws, dataset, config, k=3, on_event=events.append, backbone_factory=SeededFactory())
    b = cross_validate(ws, dataset, config, k=3, backbone_factory=SeededFactory())
    rows_a = [f.row() for f in a.result.folds]
    rows_b = [f.row() for f in b.result.folds]
    for ra, rb in zip(rows_a, rows_b):
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "n_test"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-9)
    assert sorted({e.fold for e in events if isinstance(e, EpochEnd)}) == [1, 2, 3]
    assert sum(isinstance(e, EpochEnd) for e in events) == 6


@pytest.mark.parametrize("strategy", ["gradual", "full", "scratch"])
def test_every_strategy_cross_validates(ws, dataset, strategy):
    result = cross_validate(ws, dataset, tiny_config(strategy, epochs=2), k=2, backbone_factory=SeededFactory())
    assert len(result.result.folds) == 2
    summary = result.summary
    assert 0 <= summary["accuracy"]["mean"] <= 1 and summary["accuracy"]["n"] == 2
    assert result.result.trainable_params > 0


def test_the_record_is_saved_listed_and_its_folds_reproduce_the_run(ws, dataset):
    config = tiny_config(epochs=2)
    result = cross_validate(ws, dataset, config, k=3, backbone_factory=SeededFactory())
    run_id = save_cv(ws, result, label="check")
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


def test_cv_job_records_a_run(ws, dataset, monkeypatch):
    from tlcore.jobs.manager import JobManager
    from tlcore.train.loop import config_to_dict

    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")
    with JobManager(ws) as jobs:
        job_id = jobs.submit("cv", {"dataset_id": dataset.id, "config": config_to_dict(tiny_config(epochs=1)),
                                    "folds": 3}, owner="me")
        status = jobs.wait(job_id, timeout=180)
        assert status.state == "done", status.error
        events = jobs.events(job_id)
    assert [r.id for r in list_runs(ws, kind="cv")] == [status.result["run_id"]]
    assert {e.get("fold") for e in events if e["kind"] == "epoch"} == {1, 2, 3}
    assert any(e["kind"] == "progress" and e["phase"] == "cross-validation" and e["done"] == 3 for e in events)


def test_cv_job_refuses_bad_settings(ws, dataset):
    from tlcore.errors import TlcoreError
    from tlcore.jobs.cv_kinds import cv_task
    from tlcore.events import CancelToken, ignore_event

    with pytest.raises(TlcoreError, match="'folds'"):
        cv_task({"dataset_id": dataset.id, "folds": 1}, ws, ignore_event, CancelToken())
    with pytest.raises(TlcoreError, match="unknown setting"):
        cv_task({"dataset_id": dataset.id, "fold": 3}, ws, ignore_event, CancelToken())


def test_cli_cv_prints_per_fold_metrics_as_json_matching_the_engine(ws, dataset, monkeypatch, capsys):
    from tlcore.cli.main import main

    monkeypatch.setenv("TLCORE_TEST_BACKBONES", "1")
    args = ["cv", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "3",
            "--seed", "0", "--epochs", "2", "--batch-size", "8", "--patience", "0", "--no-augment",
            "--image-size", "32", "--val-fraction", "0.2", "--lr", "0.01", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "cv" and out["k"] == 3 and len(out["fold_metrics"]) == 3
    assert {"accuracy", "balanced_accuracy", "macro_f1", "log_loss", "fold"} <= set(out["fold_metrics"][0])
    direct = cross_validate(ws, dataset, tiny_config(epochs=2), k=3)  # the default factory, as the CLI uses
    assert [r["accuracy"] for r in out["fold_metrics"]] == pytest.approx(
        [f.metrics["accuracy"] for f in direct.result.folds])
    assert main(["cv", "--workspace", str(ws.root), "--dataset", dataset.id, "--backbone", TINY, "--folds", "12",
                 "--json", "--quiet"]) == 1
    assert "has 9 distinct images" in json.loads(capsys.readouterr().out)["error"]
