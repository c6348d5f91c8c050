"""The winner refitted on every non-test image and tested once: a :class:`~tlcore.train.results.TrainResult` like
any training's, so :func:`tlcore.runs.store.save_run` records it as an ordinary run.

A probe or the pixel model is fitted again (its C chosen again on an inner hold-out of the non-test images) and folded into
a linear head without dropout over its frozen backbone (or the pixel module); a trained candidate trains again with
the folds' settings for the median of their best epochs, without early stopping (nothing is held out). The test
probabilities come from the whole model over the stored test images, as a reloaded run recomputes them. The
run's validation metrics are the winner's out-of-fold predictions over the non-test images.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

import numpy as np

from tlcore.auto.features import feature_config
from tlcore.auto.probe import fit_probe, fold_into_linear
from tlcore.auto.scoring import Audit, Scored, Scorer
from tlcore.evaluate.results import oof_probs
from tlcore.events import CancelToken, EventCallback
from tlcore.metrics import classification_metrics
from tlcore.train.strategies import StrategyConfig
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset, Split
    from tlcore.train.results import TrainResult


def out_of_fold_metrics(dataset: "Dataset", scored: Scored, folds: Sequence[np.ndarray], selection: np.ndarray
                        ) -> dict:
    """Metrics of the winner's out-of-fold predictions over the non-test records."""
    probs = oof_probs(scored.result, folds, len(dataset), len(dataset.classes))[selection]
    return classification_metrics(dataset.labels[selection], probs, dataset.classes)


def refit(ws: Workspace, dataset: "Dataset", scorer: Scorer, scored: Scored, split: "Split", selection: np.ndarray,
          audit: Audit, on_event: EventCallback, cancel: CancelToken) -> "TrainResult":
    """Fit ``scored``'s recipe on all of ``selection``, score it on ``split.test`` once; return the result."""
    start = time.perf_counter()
    if scored.candidate.trained:
        result = _refit_training(ws, dataset, scorer, scored, split, selection, audit, on_event, cancel)
    else:
        result = _refit_probe(ws, dataset, scorer, scored, split, selection, audit, on_event, cancel)
    result.val_metrics = out_of_fold_metrics(dataset, scored, scorer.folds, selection)
    result.timings["total"] = time.perf_counter() - start
    return result


def _refit_training(ws: Workspace, dataset: "Dataset", scorer: Scorer, scored: Scored, split: "Split",
                    selection: np.ndarray, audit: Audit, on_event: EventCallback, cancel: CancelToken
                    ) -> "TrainResult":
    from tlcore.data import Split
    from tlcore.train.loop import train

    assert scored.config is not None
    config = replace(scored.config, epochs=scored.refit_epochs, patience=0)
    empty = np.zeros(0, dtype=np.int64)
    refit_split = Split(train=selection, val=empty, test=split.test, seed=split.seed, val_fraction=0.0,
                        test_fraction=split.test_fraction)
    audit.saw("refit", selection)
    audit.saw("test", split.test)
    result = train(ws, dataset, config, split=refit_split, on_event=on_event, cancel=cancel,
                   backbone=scorer.backbones(config))
    if scored.candidate.tta:  # the saved model averages over the mirror image; its test predictions must too
        with_test_time_flips(ws, dataset, result, on_event, cancel)
    return result


def with_test_time_flips(ws: Workspace, dataset: "Dataset", result: "TrainResult",
                         on_event: EventCallback = lambda e: None, cancel: CancelToken | None = None) -> None:
    """Switch ``result``'s model to test-time flips and score its test split again through the whole model."""
    from tlcore.data.augment import eval_transform
    from tlcore.models.inference import predict_stored

    result.model.tta = "hflip"
    size = result.config.image_size or result.backbone.data_config.input_size
    test = result.split.test
    result.test_probs = predict_stored(result.model, ws, [dataset.hashes[i] for i in test],
                                       eval_transform(result.backbone.data_config, size), on_event, cancel,
                                       phase="test")
    result.test_metrics = classification_metrics(dataset.labels[test], result.test_probs, dataset.classes)


def _refit_probe(ws: Workspace, dataset: "Dataset", scorer: Scorer, scored: Scored, split: "Split",
                 selection: np.ndarray, audit: Audit, on_event: EventCallback, cancel: CancelToken
                 ) -> "TrainResult":
    import torch

    from tlcore.data import Split
    from tlcore.data.augment import eval_transform
    from tlcore.models.inference import predict_stored
    from tlcore.models.transfer import TransferModel
    from tlcore.train.results import TrainResult

    candidate, base = scored.candidate, scorer.base
    config = replace(feature_config(base, candidate.backbone),
                     strategy=StrategyConfig("feature-extraction", head="linear", dropout=0.0), epochs=1, patience=0)
    fit_start = time.perf_counter()
    x = scorer.features(candidate.backbone)  # rows of the selection records, in sorted order
    audit.saw("refit", scorer.selection)
    probe = fit_probe(x, dataset.labels[scorer.selection], len(dataset.classes), base.seed)
    backbone = copy.deepcopy(scorer.backbones(config))
    torch.manual_seed(base.seed)
    model = TransferModel(backbone, len(dataset.classes), head="linear", dropout=0.0)
    fold_into_linear(probe, model.head[1])
    model.set_trainable(0)
    model = model.to(memory_format=torch.channels_last).eval()
    fit_seconds = time.perf_counter() - fit_start
    test_start = time.perf_counter()
    audit.saw("test", split.test)
    size = config.image_size or backbone.data_config.input_size
    test_probs = predict_stored(model, ws, [dataset.hashes[i] for i in split.test],
                                eval_transform(backbone.data_config, size), on_event, cancel, phase="test")
    test_metrics = classification_metrics(dataset.labels[split.test], test_probs, dataset.classes)
    empty = np.zeros(0, dtype=np.int64)
    refit_split = Split(train=np.asarray(selection, dtype=np.int64), val=empty, test=split.test, seed=split.seed,
                        val_fraction=0.0, test_fraction=split.test_fraction)
    return TrainResult(model=model, backbone=backbone, config=config, dataset_id=dataset.id,
                       classes=tuple(dataset.classes), split=refit_split, history=[], val_metrics={},
                       test_metrics=test_metrics, test_probs=test_probs,
                       timings={"features": 0.0, "train": fit_seconds, "test": time.perf_counter() - test_start},
                       cache_mode="pixels" if candidate.kind == "pixels" else "features", best_epoch=0,
                       stopped_early=False, trainable_params=probe.n_params)
