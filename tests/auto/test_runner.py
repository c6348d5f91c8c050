"""The auto recipe end to end on a tiny dataset and a tiny random-init backbone: the fold-and-refit protocol never
lets a test image into selection, every kind of winner is an ordinary run that reloads and predicts identically,
the same seed gives the same leaderboard, and bad input gets a clear message."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import tlcore.train.loop
import tlcore.train.lr_find
from tests.conftest import TINY, tiny_config
from tests.synthetic import write_class_folder
from tlcore.auto.config import AutoConfig
from tlcore.auto.features import feature_config, pooled_features
from tlcore.auto.probe import fit_probe
from tlcore.auto.runner import run_auto
from tlcore.data import import_folder, make_split
from tlcore.data.augment import eval_transform
from tlcore.errors import Cancelled, DatasetError
from tlcore.events import CancelToken, Leaderboard
from tlcore.models.factory import create_backbone
from tlcore.models.inference import predict_stored
from tlcore.runs.records import get_run
from tlcore.runs.store import load_run, save_run
from tlcore.train.strategies import SettingError

FAST = dict(backbones=(TINY,), folds=3, budget=3600, max_epochs=2, augments=("none",))


def auto_config(**kw) -> AutoConfig:
    return AutoConfig(**{**FAST, **kw})


def test_no_test_image_reaches_selection_and_the_refit_sees_every_other_image(ws, dataset, monkeypatch):
    trains, sweeps = [], []
    real_train, real_lr_find = tlcore.train.loop.train, tlcore.train.lr_find.lr_find

    def spy_train(ws_, dataset_, config, split=None, **kw):
        trains.append(split)
        return real_train(ws_, dataset_, config, split=split, **kw)

    def spy_lr_find(ws_, dataset_, config, split=None, **kw):
        sweeps.append(split)
        return real_lr_find(ws_, dataset_, config, split=split, **kw)

    monkeypatch.setattr(tlcore.train.loop, "train", spy_train)
    monkeypatch.setattr(tlcore.train.lr_find, "lr_find", spy_lr_find)
    config = tiny_config()
    test = make_split(dataset, config.val_fraction, config.test_fraction, config.seed).test
    events = []
    result = run_auto(ws, dataset, config, auto_config(kinds=("pixels", "probe", "head", "fine-tune")),
                      on_event=events.append)
    selection = np.setdiff1d(np.arange(len(dataset)), test)
    assert np.array_equal(result.selection, selection) and np.array_equal(result.train.split.test, test)
    assert np.intersect1d(result.audit.selection_indices(), test).size == 0
    assert np.array_equal(result.audit.selection_indices(), selection)
    *selecting, refit = trains if result.winner.split(":")[0] in ("head", "fine-tune-1", "fine-tune-2") else \
        (trains + [None])
    assert len(selecting) == 3 * 3  # head, fine-tune-1, fine-tune-2: 3 folds each
    for split in selecting:
        seen = np.concatenate([split.train, split.val, split.test])
        assert np.intersect1d(seen, test).size == 0
        assert np.intersect1d(split.test, np.concatenate([split.train, split.val])).size == 0
    for split in sweeps:
        assert np.array_equal(split.train, selection) and len(split.val) == len(split.test) == 0
    if refit is not None:
        assert np.array_equal(refit.train, selection) and len(refit.val) == 0 and np.array_equal(refit.test, test)
    steps = dict(result.audit.steps)
    assert np.array_equal(steps["refit"], selection) and np.array_equal(steps["test"], test)
    boards = [e for e in events if isinstance(e, Leaderboard)]
    assert any(r["status"] == "running" for b in boards for r in b.rows)
    final = {r["name"]: r for r in result.leaderboard}
    assert all(r["status"] == "done" for r in final.values()) and final[result.winner]["winner"] is True
    assert result.reason and result.winner in final


@pytest.mark.parametrize("only", ["pixels", f"probe:{TINY}", f"head:{TINY}", f"fine-tune-1:{TINY}",
                                  f"scratch:{TINY}", f"head:{TINY}+default+tta"])
def test_every_kind_of_winner_is_a_run_that_reloads_and_predicts_identically(ws, dataset, only):
    result = run_auto(ws, dataset, tiny_config(), auto_config(only=only))
    assert result.winner == only
    run_id = save_run(ws, result.train, dataset, extra={"strategy": "auto", "auto": result.record()})
    record = get_run(ws, run_id)
    assert record["strategy"] == "auto" and record["auto"]["winner"] == only and record["auto"]["reason"]
    run = load_run(ws, run_id)
    assert run.model.tta == ("hflip" if only.endswith("+tta") else "none") == record["tta"]
    hashes = [dataset.hashes[i] for i in run.split.test]
    probs = predict_stored(run.model, ws, hashes, eval_transform(run.data_config, run.image_size))
    assert np.array_equal(probs, run.test_probs)
    assert np.allclose(probs, result.train.test_probs, atol=1e-6)


@pytest.mark.parametrize("backbone", ["raw_pixels", TINY])
def test_a_probe_winner_predicts_what_scikit_learn_predicts_on_the_same_features(ws, dataset, backbone):
    only = "pixels" if backbone == "raw_pixels" else f"probe:{backbone}"
    config = tiny_config()
    result = run_auto(ws, dataset, config, auto_config(only=only))
    fc = feature_config(config, backbone)
    bb = create_backbone(backbone, pretrained=False) if backbone == "raw_pixels" else result.train.backbone
    feats = lambda idx: pooled_features(ws, dataset, bb, fc, idx, lambda e: None, CancelToken())  # noqa: E731
    probe = fit_probe(feats(result.selection), dataset.labels[result.selection], len(dataset.classes), config.seed)
    expected = probe.probs(feats(result.train.split.test))
    assert np.allclose(result.train.test_probs, expected, atol=1e-5)


def test_the_same_seed_gives_the_same_leaderboard_and_the_same_run(ws, dataset):
    auto = auto_config(kinds=("pixels", "probe", "head"))
    a = run_auto(ws, dataset, tiny_config(), auto)
    b = run_auto(ws, dataset, tiny_config(), auto)
    assert [r["fold_scores"] for r in a.leaderboard] == [r["fold_scores"] for r in b.leaderboard]
    assert a.winner == b.winner and np.array_equal(a.train.test_probs, b.train.test_probs)
    c = run_auto(ws, dataset, tiny_config(seed=1), auto)
    assert [f.tolist() for f in c.folds] != [f.tolist() for f in a.folds]


def test_a_budget_too_small_for_any_candidate_names_the_budget_and_what_it_needs(ws, dataset):
    with pytest.raises(SettingError, match=r"time budget \(setting 'budget', --budget\) is 1 s, too little for any "
                                           r"candidate: the cheapest, .* give a budget of at least \d+ s"):
        run_auto(ws, dataset, tiny_config(), auto_config(budget=1))
    assert not any(ws.runs.iterdir())


def test_a_class_too_small_for_the_folds_is_named(ws, tmp_path):
    root = write_class_folder(tmp_path / "small", n_per_class=10)
    for extra in sorted((root / "blue").iterdir())[3:]:
        extra.unlink()
    small, _ = import_folder(ws, root)
    with pytest.raises(DatasetError, match=r"class 'blue' .* outside the test split; 5 folds need at least 5"):
        run_auto(ws, small, tiny_config(), auto_config(folds=5))


def test_a_dataset_of_one_class_is_refused_by_name(ws, dataset, tmp_path):
    root = write_class_folder(tmp_path / "one", classes=("red",), n_per_class=10)
    with pytest.raises(DatasetError, match=r"only one class \('red'\) has usable images; at least 2"):
        import_folder(ws, root)  # the import refuses it; a dataset built by hand is refused by the recipe too
    red = dataset.classes.index("red")
    records = tuple(replace(r, label=0) for r in dataset.records if r.label == red)
    one = replace(dataset, classes=("red",), records=records)
    with pytest.raises(DatasetError, match=r"has 1 class \(only 'red'\); at least 2 are needed"):
        run_auto(ws, one, tiny_config(), auto_config())


def test_cancel_stops_the_search(ws, dataset):
    token = CancelToken()
    seen = []

    def cancel_when_scoring(event):
        seen.append(event)
        if isinstance(event, Leaderboard) and any(r["status"] == "running" for r in event.rows):
            token.cancel()

    with pytest.raises(Cancelled):
        run_auto(ws, dataset, tiny_config(), auto_config(kinds=("pixels", "probe")), on_event=cancel_when_scoring,
                 cancel=token)


def test_a_flip_trained_candidate_is_also_scored_with_test_time_flips(ws, dataset):
    result = run_auto(ws, dataset, tiny_config(), auto_config(kinds=("head",), augments=("default",)))
    rows = {r["name"]: r for r in result.leaderboard}
    assert set(rows) == {f"head:{TINY}+default", f"head:{TINY}+default+tta"}
    plain, tta = rows[f"head:{TINY}+default"], rows[f"head:{TINY}+default+tta"]
    assert tta["status"] == "done" and tta["tta"] is True and tta["seconds"] > plain["seconds"]
    assert tta["fold_scores"] != plain["fold_scores"] or tta["mean"] == plain["mean"]
