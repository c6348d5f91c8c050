"""One candidate scored on the auto recipe's folds: a :class:`Scored` with the per-fold results.

Pixels and probes fit :func:`tlcore.auto.probe.fit_probe` on each fold's training part of the cached rows and score
its held-out fold; trained candidates first get their learning rate from a range test on the non-test images
(:func:`tlcore.train.lr_find.lr_find`), then train once per fold through :func:`tlcore.evaluate.cv.run_folds`
(early stopping on an inner validation part carved from the fold's training part). Every step's record indices go
into the :class:`Audit`, so a test can check that no test image ever reaches selection.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tlcore.auto.candidates import Candidate, train_config
from tlcore.auto.config import AutoConfig
from tlcore.auto.features import feature_config, pooled_features
from tlcore.auto.probe import fit_probe
from tlcore.evaluate.cv import PristineBackbones, Steps, run_folds
from tlcore.evaluate.folds import training_part
from tlcore.evaluate.results import FoldResult, StrategyResult
from tlcore.events import CancelToken, EventCallback, Message
from tlcore.metrics import classification_metrics
from tlcore.train.config import TrainConfig, config_to_dict
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset
    from tlcore.train.lr_find import LRFindResult
    from tlcore.train.results import TrainResult


@dataclass
class Audit:
    """Which record indices each step of the auto recipe was given (``(step, indices)``, in order)."""

    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def saw(self, step: str, indices: np.ndarray) -> None:
        """Record that ``step`` was given the records ``indices``."""
        self.steps.append((step, np.asarray(indices, dtype=np.int64).copy()))

    def selection_indices(self) -> np.ndarray:
        """Every index any selection step (everything before the refit and the test) was given."""
        chosen = [idx for step, idx in self.steps if not step.startswith(("refit", "test"))]
        return np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


@dataclass
class Scored:
    """A candidate's folds, its learning-rate curve (trained kinds) and its exact training settings."""

    candidate: Candidate
    result: StrategyResult
    seconds: float
    config: TrainConfig | None = None  # trained kinds: the settings each fold trained with
    lr: "LRFindResult | None" = None
    settings: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str = "accuracy") -> float:
        """The metric's mean over the folds."""
        return float(self.result.summary[metric]["mean"])

    @property
    def refit_epochs(self) -> int:
        """Epochs the refit trains: the median of the folds' best epochs (at least 1)."""
        best = [f.best_epoch for f in self.result.folds if f.best_epoch > 0]
        return max(1, int(round(float(np.median(best))))) if best else (self.config.epochs if self.config else 1)


class Scorer:
    """Scores candidates on shared folds of the non-test records ``selection``; keeps the features it read."""

    def __init__(self, ws: Workspace, dataset: "Dataset", base: TrainConfig, auto: AutoConfig,
                 selection: np.ndarray, folds: Sequence[np.ndarray], backbones: PristineBackbones,
                 on_event: EventCallback, cancel: CancelToken, audit: Audit) -> None:
        self.ws, self.dataset, self.base, self.auto = ws, dataset, base, auto
        self.selection = np.sort(np.asarray(selection, dtype=np.int64))
        self.folds = list(folds)
        self.backbones, self.on_event, self.cancel, self.audit = backbones, on_event, cancel, audit
        self._features: dict[str, np.ndarray] = {}

    def features(self, backbone: str) -> np.ndarray:
        """Pooled features (or pixels) of the selection records, in ``selection`` order; one pass, then memory."""
        if backbone not in self._features:
            config = feature_config(self.base, backbone)
            self._features[backbone] = pooled_features(self.ws, self.dataset, self.backbones(config), config,
                                                       self.selection, self.on_event, self.cancel)
        return self._features[backbone]

    def score(self, candidate: Candidate) -> list[Scored]:
        """Score ``candidate`` on every fold (raises what its training raises, :class:`Cancelled` included).

        A candidate trained with random flips comes back twice: as itself and with test-time flips (its fold
        models scored again on the mirrored held-out images, the two views' probabilities averaged), so CV
        decides test-time augmentation too. Asked for the test-time variant, both come back as well.
        """
        start = time.perf_counter()
        if candidate.trained:
            scored = self._score_training(replace(candidate, tta=False))
        else:
            scored = [self._score_fit(candidate)]
        extra = sum(s.seconds for s in scored[1:])
        scored[0].seconds = time.perf_counter() - start - extra
        for s in scored[1:]:
            s.seconds += scored[0].seconds
        return scored

    def _score_fit(self, candidate: Candidate) -> Scored:
        x = self.features(candidate.backbone)
        labels, classes, seed = self.dataset.labels, self.dataset.classes, self.base.seed
        steps = Steps(len(self.folds), self.on_event)
        results, cs = [], []
        for i, held_out in enumerate(self.folds):
            self.cancel.raise_if_cancelled()
            what = f"{candidate.name}: fold {i + 1}/{len(self.folds)}"
            steps.start(what)
            fold_start = time.perf_counter()
            train_idx = training_part(self.folds, i)
            self.audit.saw(f"{candidate.name} fit {i + 1}", train_idx)
            self.audit.saw(f"{candidate.name} score {i + 1}", held_out)
            probe = fit_probe(x[self._rows(train_idx)], labels[train_idx], len(classes), seed)
            probs = probe.probs(x[self._rows(held_out)])
            metrics = classification_metrics(labels[held_out], probs, classes)
            seconds = time.perf_counter() - fold_start
            results.append(FoldResult(fold=i + 1, n_train=len(train_idx), n_val=0, n_test=len(held_out),
                                      metrics=metrics, probs=probs, seconds=seconds, trainable_params=probe.n_params,
                                      cache_mode="pixels" if candidate.kind == "pixels" else "features",
                                      timings={"train": seconds}))
            cs.append(probe.C)
            steps.finish(what)
            self.on_event(Message(f"{what}: held-out accuracy {metrics['accuracy']:.3f} (C={probe.C:g})"))
        settings = {**probe.settings(), "C": cs, "C_chosen_on": "a stratified quarter of each fold's training part"}
        result = StrategyResult(candidate.name, candidate.label, settings, results, 0.0)
        return Scored(candidate, result, 0.0, settings=settings)

    def _score_training(self, candidate: Candidate) -> list[Scored]:
        from tlcore.data import Split
        from tlcore.train.lr_find import lr_find

        probe_config = train_config(candidate, self.base, self.auto)
        empty = np.zeros(0, dtype=np.int64)
        split = Split(train=self.selection, val=empty, test=empty, seed=self.base.seed, val_fraction=0.0,
                      test_fraction=0.0)
        self.audit.saw(f"{candidate.name} lr-find", self.selection)
        found = lr_find(self.ws, self.dataset, probe_config, split=split, on_event=self.on_event, cancel=self.cancel,
                        backbone=self.backbones(probe_config))
        lr = found.suggested_lr if found.suggested_lr is not None and math.isfinite(found.suggested_lr) else None
        if lr is None:
            self.on_event(Message(f"{candidate.name}: the range test suggested no learning rate; using "
                                  f"{probe_config.strategy.head_lr:g}", level="warning"))
        config = train_config(candidate, self.base, self.auto, lr)
        for i, held_out in enumerate(self.folds):
            self.audit.saw(f"{candidate.name} fit {i + 1}", training_part(self.folds, i))
            self.audit.saw(f"{candidate.name} score {i + 1}", held_out)
        mirrored = _MirroredFolds(self, candidate) if candidate.flips else None
        result = run_folds(self.ws, self.dataset, config, self.folds, self.on_event, self.cancel, self.backbones,
                           steps=Steps(len(self.folds), self.on_event), what=candidate.name,
                           after_fold=mirrored.score if mirrored else None)
        result.label = candidate.label
        settings = {"train_config": config_to_dict(config), "lr": config.strategy.head_lr}
        out = [Scored(candidate, result, 0.0, config=config, lr=found, settings=settings)]
        if mirrored is not None:
            tta = replace(candidate, tta=True)
            out.append(Scored(tta, StrategyResult(tta.name, tta.label, settings, mirrored.folds, 0.0),
                              mirrored.seconds, config=config, lr=found, settings={**settings, "tta": "hflip"}))
        return out

    def _rows(self, indices: np.ndarray) -> np.ndarray:
        """Positions of the records ``indices`` in ``selection`` (they must all be in it)."""
        pos = np.searchsorted(self.selection, indices)
        if len(indices) and (pos.max() >= len(self.selection) or (self.selection[pos] != indices).any()):
            raise ValueError("a fold holds records outside the auto recipe's selection part")
        return pos


class _MirroredFolds:
    """Test-time flips scored with each fold's model while it is there: the held-out images mirrored, their
    probabilities averaged with the fold's own (what ``TransferModel.tta = "hflip"`` computes)."""

    def __init__(self, scorer: Scorer, candidate: Candidate) -> None:
        self.scorer, self.candidate = scorer, candidate
        self.folds: list[FoldResult] = []
        self.seconds = 0.0

    def score(self, i: int, result: "TrainResult", held_out: np.ndarray) -> None:
        from tlcore.data.augment import mirror_transform
        from tlcore.models.inference import predict_stored

        start = time.perf_counter()
        s, dataset = self.scorer, self.scorer.dataset
        s.audit.saw(f"{self.candidate.name}+tta score {i + 1}", held_out)
        size = result.config.image_size or result.backbone.data_config.input_size
        result.model.eval()
        mirrored = predict_stored(result.model, s.ws, [dataset.hashes[j] for j in held_out],
                                  mirror_transform(result.backbone.data_config, size), s.on_event, s.cancel,
                                  phase="test-time flips")
        probs = ((np.asarray(result.test_probs, dtype=np.float64) + mirrored) / 2).astype(np.float32)
        metrics = classification_metrics(dataset.labels[held_out], probs, dataset.classes)
        seconds = time.perf_counter() - start
        self.seconds += seconds
        self.folds.append(FoldResult(fold=i + 1, n_train=len(result.split.train), n_val=len(result.split.val),
                                     n_test=len(held_out), metrics=metrics, probs=probs, seconds=seconds,
                                     trainable_params=result.trainable_params, best_epoch=result.best_epoch,
                                     stopped_early=result.stopped_early, cache_mode=result.cache_mode))
