"""The training loop: one function, :func:`train`, that reads top to bottom.

For each epoch the strategy says how many of the backbone's last block groups train; whenever that number changes
a new :class:`~tlcore.train.epoch.Phase` begins, with inputs from :mod:`tlcore.train.inputs` (the frozen part's
outputs cached once per image where it can be split off); the optimizer carries over, gaining parameter groups for
the newly unfrozen block groups, so what was already training keeps its Adam state. Each epoch is run by
:class:`~tlcore.train.epoch.EpochRunner`; :class:`~tlcore.train.stopping.EarlyStopping` keeps the best epoch, whose
weights the model gets back before the final validation and test scores.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tlcore.events import CancelToken, EventCallback, Message, ignore_event
from tlcore.metrics import classification_metrics
from tlcore.models.factory import Backbone
from tlcore.models.inference import predict_stored
from tlcore.train.config import TrainConfig
from tlcore.train.epoch import EpochRunner, Phase, evaluate, start_phase
from tlcore.train.inputs import EpochInputs, InputPipeline
from tlcore.train.results import TrainResult
from tlcore.train.setup import new_model
from tlcore.train.stopping import EarlyStopping, changing_state_keys
from tlcore.train.strategies import trainable_group_count
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from tlcore.data import Dataset, Split
    from tlcore.models.transfer import TransferModel


def train(ws: Workspace, dataset: "Dataset", config: TrainConfig, split: "Split | None" = None,
          on_event: EventCallback = ignore_event, cancel: CancelToken | None = None,
          backbone: Backbone | None = None, test_from_cache: bool = False) -> TrainResult:
    """Train a transfer model on ``dataset`` as ``config`` says; evaluate it on the validation and test split.

    Args:
        ws: workspace holding the images and the feature caches.
        dataset: an imported dataset.
        config: backbone, strategy and training settings.
        split: the train/val/test split; made from the config's fractions and seed if None.
        on_event: receives progress events.
        cancel: checked between steps; raises :class:`~tlcore.errors.Cancelled` when set.
        backbone: a freshly created backbone to use instead of creating one (it is trained in place).
        test_from_cache: score the test images through the frozen part's cache too (cross-validation does, so
            k folds cost one backbone pass). Off by default: a saved run's test predictions then come from the
            whole model, exactly as a reloaded run recomputes them.

    Raises:
        WeightsUnavailable: if the strategy needs pretrained weights that can't be had.
        Cancelled: if ``cancel`` was set.
    """
    config.check()
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    made = new_model(dataset, config, split, backbone)
    split, backbone, model = made.split, made.backbone, made.model
    strategy, n_classes = config.strategy, len(dataset.classes)
    pipeline = InputPipeline(ws, dataset, split, model, backbone, config, on_event, cancel)
    epochs = EpochRunner(model, config, dataset.labels[split.train], n_classes, on_event, cancel, started)
    changing = changing_state_keys(model, strategy, config.epochs)
    stopping = EarlyStopping(config.monitor, config.patience)
    phases: list[Phase] = []
    history: list[dict[str, Any]] = []

    n_groups = len(backbone.groups)
    for epoch in range(config.epochs):
        n_trainable = trainable_group_count(strategy, n_groups, epoch)
        if not phases or n_trainable != phases[-1].n_trainable:
            phases.append(start_phase(model, pipeline, config, n_trainable, changing,
                                      previous=phases[-1] if phases else None))
            on_event(Message(f"epoch {epoch + 1}: training the head and the last {n_trainable} of {n_groups} "
                             f"block groups ({phases[-1].trainable_params:,} parameters; "
                             f"inputs: {phases[-1].inputs.mode})"))
        history.append(epochs.run(phases[-1], epoch))
        if stopping.update(epoch + 1, history[-1][config.monitor], phases[-1].tracked):
            on_event(Message(f"early stopping after epoch {epoch + 1}: {config.monitor} has not improved for "
                             f"{config.patience} epochs; restoring the weights of epoch {stopping.best_epoch}"))
            break

    stopping.restore(model, changing)
    model.eval()
    inputs = phases[-1].inputs
    _, val_probs, val_labels = evaluate(inputs, n_classes)
    val_metrics = classification_metrics(val_labels, val_probs, dataset.classes)
    test_start = time.perf_counter()
    test_probs = _test_probs(ws, dataset, split, model, inputs, pipeline, test_from_cache)
    test_metrics = classification_metrics(dataset.labels[split.test], test_probs, dataset.classes)
    test_seconds = time.perf_counter() - test_start
    timings = {"features": pipeline.feature_seconds, "train": epochs.train_seconds, "test": test_seconds,
               "total": time.perf_counter() - started}
    modes = {p.inputs.mode for p in phases}
    return TrainResult(model=model, backbone=backbone, config=config, dataset_id=dataset.id,
                       classes=tuple(dataset.classes), split=split, history=history, val_metrics=val_metrics,
                       test_metrics=test_metrics, test_probs=test_probs, timings=timings,
                       cache_mode=next((m for m in ("aug-bank", "prefix", "features") if m in modes), "none"),
                       best_epoch=stopping.best_epoch, stopped_early=stopping.stopped,
                       trainable_params=max(p.trainable_params for p in phases),
                       cache_bytes=max(p.inputs.cache_bytes for p in phases))


def _test_probs(ws: Workspace, dataset: "Dataset", split: "Split", model: "TransferModel", inputs: EpochInputs,
                pipeline: InputPipeline, from_cache: bool) -> np.ndarray:
    """Test-split probabilities: through the frozen part's cache if asked and possible, else the whole model."""
    import torch

    if from_cache and inputs.scores_from_cache:
        with torch.inference_mode():
            batches = [torch.softmax(inputs.forward(x).float(), 1).numpy() for x in inputs.cached_inputs(split.test)]
        return np.concatenate(batches) if batches else np.zeros((0, len(dataset.classes)), dtype=np.float32)
    # the same path a reloaded run takes, so a saved run reproduces these predictions exactly
    test_hashes = [dataset.hashes[i] for i in split.test]
    return predict_stored(model, ws, test_hashes, pipeline.eval_tf, pipeline.on_event, pipeline.cancel, phase="test")
