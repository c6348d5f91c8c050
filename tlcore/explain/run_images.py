"""Explaining a saved run: pick test images, compute maps for several methods, check them.

Works on a :class:`~tlcore.runs.store.LoadedRun` (or a run id) and plain images. The run's model is copied
before use, so a model shared by several app sessions is never touched. Images go through the run's own
evaluation preprocessing; the picture returned with each map is exactly what the model saw, pixel for pixel.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from tlcore.events import CancelToken, EventCallback, Message, ignore_event
from tlcore.explain.api import explain
from tlcore.explain.checks.faithfulness import Faithfulness, faithfulness
from tlcore.explain.checks.sanity import SanityResult, sanity_check
from tlcore.explain.config import Attribution, ExplainConfig
from tlcore.explain.errors import ExplainError
from tlcore.explain.methods import METHODS
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    from PIL import Image

    from tlcore.data import Dataset
    from tlcore.evaluate.predict import ImageInput
    from tlcore.runs.store import LoadedRun

log = logging.getLogger(__name__)

Target = Union[str, int]  # "predicted" | "true" | a class index | a class name

# Test-split filters: name -> label for pickers.
FILTERS = {
    "wrong": "Wrong predictions",
    "confident-mistakes": "Most confident mistakes",
    "correct": "Correct predictions",
    "all": "All test images",
}


@dataclass(frozen=True)
class TestPick:
    """One image of the run's test split, with the recorded prediction."""

    index: int  # record index in the dataset
    hash: str
    name: str
    true_label: int
    predicted: int
    probability: float  # of the predicted class


@dataclass(frozen=True)
class ExplainedImage:
    """One image, the model's prediction and a map per method."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8: the pixels the model saw
    probs: np.ndarray  # (C,) class probabilities
    predicted: int
    true_label: Optional[int]
    target: int  # the class the maps explain
    maps: Mapping[str, Attribution]  # method name -> map

    @property
    def correct(self) -> Optional[bool]:
        """Whether the prediction is right (None if the true class is unknown)."""
        return None if self.true_label is None else self.predicted == self.true_label


@dataclass(frozen=True)
class RunExplanation:
    """Maps for a set of images from one run, with the trust checks that were asked for."""

    run_id: str
    classes: tuple[str, ...]
    methods: tuple[str, ...]
    images: tuple[ExplainedImage, ...]
    sanity: Mapping[str, SanityResult] = field(default_factory=dict)  # method -> result over all images
    faithfulness: Mapping[str, tuple[Faithfulness, ...]] = field(default_factory=dict)  # method -> per image


def pick_test_images(
    run: "LoadedRun", dataset: "Dataset", filter: str = "wrong", class_index: Optional[int] = None, limit: int = 8
) -> list[TestPick]:
    """Test-split images by the run's recorded predictions.

    Args:
        filter: ``wrong`` / ``correct`` (most confident first, one class after another), ``confident-mistakes``
            (wrong, most confident first), ``all`` (split order).
        class_index: only images whose true class is this one.
        limit: at most this many.

    Raises:
        ExplainError: unknown filter, or the run's test predictions do not match its split.
    """
    if filter not in FILTERS:
        raise ExplainError(f"test image filter {filter!r} is unknown; choose one of {tuple(FILTERS)}")
    indices, probs = np.asarray(run.split.test), np.asarray(run.test_probs)
    if len(indices) != len(probs):
        raise ExplainError(f"run {run.id}: {len(probs)} recorded test predictions for {len(indices)} test images")
    picks = []
    for i, row in zip(indices, probs):
        record = dataset.records[int(i)]
        predicted = int(row.argmax())
        picks.append(TestPick(int(i), record.hash, record.source_name, int(record.label), predicted, float(row.max())))
    if class_index is not None:
        picks = [p for p in picks if p.true_label == class_index]
    if filter in ("wrong", "confident-mistakes"):
        picks = [p for p in picks if p.predicted != p.true_label]
    elif filter == "correct":
        picks = [p for p in picks if p.predicted == p.true_label]
    if filter == "confident-mistakes":
        picks.sort(key=lambda p: -p.probability)
    elif filter in ("wrong", "correct"):
        picks = _round_robin(sorted(picks, key=lambda p: -p.probability))
    return picks[: max(0, limit)]


def _round_robin(picks: list[TestPick]) -> list[TestPick]:
    """Interleave classes (each class keeps its order) so a short list shows several classes."""
    by_class: dict[int, list[TestPick]] = {}
    for p in picks:
        by_class.setdefault(p.true_label, []).append(p)
    out: list[TestPick] = []
    while any(by_class.values()):
        for label in sorted(by_class):
            if by_class[label]:
                out.append(by_class[label].pop(0))
    return out


def model_inputs(run: "LoadedRun", images: Sequence["Image.Image"]) -> tuple[Tensor, list[np.ndarray]]:
    """Normalised model inputs (N, 3, S, S) and the matching display pictures (S, S, 3) uint8."""
    from tlcore.data.augment import display_transform, eval_transform

    to_tensor = eval_transform(run.data_config, run.image_size)
    to_picture = display_transform(run.data_config, size=run.image_size)
    tensors = torch.stack([to_tensor(im.convert("RGB")) for im in images])
    pictures = [np.asarray(to_picture(im.convert("RGB")), dtype=np.uint8) for im in images]
    return tensors, pictures


def resolve_target(target: Target, classes: Sequence[str], predicted: int, true_label: Optional[int]) -> int:
    """The class index a map should explain.

    Raises:
        ExplainError: "true" without a known true class, or a class that the run does not have.
    """
    if target == "predicted":
        return predicted
    if target == "true":
        if true_label is None:
            raise ExplainError("target 'true' needs the images' true classes; use test-split images or 'predicted'")
        return true_label
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 0 <= int(target) < len(classes):
            raise ExplainError(f"target class {target} is out of range; the run has {len(classes)} classes")
        return int(target)
    if isinstance(target, str) and target in classes:
        return list(classes).index(target)
    if isinstance(target, str) and target.isdigit():  # a class index given as text (command line)
        return resolve_target(int(target), classes, predicted, true_label)
    raise ExplainError(f"target {target!r} is not 'predicted', 'true' or one of the run's classes {tuple(classes)}")


def explain_run(
    ws: Workspace,
    run: Union["LoadedRun", str],
    images: Sequence["ImageInput"],
    methods: Union[str, Sequence[str]],
    target: Target = "predicted",
    true_labels: Optional[Sequence[Optional[int]]] = None,
    names: Optional[Sequence[str]] = None,
    settings: Optional[Mapping[str, Any]] = None,
    sanity: bool = False,
    check_faithfulness: bool = False,
    on_event: EventCallback = ignore_event,
    cancel: Optional[CancelToken] = None,
) -> RunExplanation:
    """Maps of each method for each image, with the run's model and preprocessing.

    Args:
        ws: the workspace holding the run.
        run: a loaded run or its id.
        images: PIL images, bytes or paths (checked like an import).
        methods: method names (see :data:`~tlcore.explain.METHODS`).
        target: "predicted", "true" (needs ``true_labels``), a class index or a class name.
        true_labels: the true class index per image, None where unknown.
        names: a name per image (default: numbered).
        settings: :class:`ExplainConfig` fields other than ``method`` (steps, samples, window, ...).
        sanity: also run the model-randomisation sanity check per method (costs ~5 more passes of each).
        check_faithfulness: also compute deletion/insertion scores per map (~60 forward passes each).

    Raises:
        ExplainError: bad method, target or settings; DatasetError for an unreadable image; RunNotFound.
    """
    from tlcore.evaluate.predict import open_image

    run = as_loaded_run(ws, run)
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ExplainError(f"unknown method {unknown[0] if unknown else '(none)'!r}; choose from {tuple(METHODS)}")
    names = list(names) if names is not None else [f"image {i + 1}" for i in range(len(images))]
    truth = list(true_labels) if true_labels is not None else [None] * len(images)
    if not len(images) == len(names) == len(truth):
        raise ExplainError(f"{len(images)} images, {len(names)} names and {len(truth)} true labels do not match")
    if not images:
        raise ExplainError("no images to explain")
    configs = {m: ExplainConfig(method=m, **dict(settings or {})) for m in methods}
    model = copy.deepcopy(run.model).eval()
    x, pictures = model_inputs(run, [open_image(im, n) for im, n in zip(images, names)])
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), dim=1).numpy()
    predicted = [int(p.argmax()) for p in probs]
    targets = [resolve_target(target, run.classes, p, t) for p, t in zip(predicted, truth)]
    maps: dict[str, list[Attribution]] = {}
    checks: dict[str, SanityResult] = {}
    scores: dict[str, tuple[Faithfulness, ...]] = {}
    for method in methods:
        label = METHODS[method].label
        maps[method] = explain(model, x, targets, configs[method], on_event=on_event, cancel=cancel, phase=label)
        if sanity:
            checks[method] = sanity_check(model, x, targets, configs[method], on_event=on_event, cancel=cancel)
            on_event(Message(checks[method].verdict, "info" if checks[method].passed else "warning"))
        if check_faithfulness:
            scores[method] = tuple(
                faithfulness(model, x[i], targets[i], maps[method][i].map) for i in range(len(x))
            )
    explained = tuple(
        ExplainedImage(names[i], pictures[i], probs[i], predicted[i], truth[i], targets[i],
                       {m: maps[m][i] for m in methods})
        for i in range(len(x))
    )
    return RunExplanation(run.id, tuple(run.classes), methods, explained, checks, scores)


def explain_test_images(
    ws: Workspace, run: Union["LoadedRun", str], picks: Sequence[TestPick], methods: Union[str, Sequence[str]],
    **kwargs: Any,
) -> RunExplanation:
    """:func:`explain_run` on stored test-split images (their true classes are known)."""
    from tlcore.data import load_image

    images = [load_image(ws, p.hash) for p in picks]
    return explain_run(ws, run, images, methods, true_labels=[p.true_label for p in picks],
                       names=[p.name for p in picks], **kwargs)


def as_loaded_run(ws: Workspace, run: Union["LoadedRun", str]) -> "LoadedRun":
    """``run`` itself if it is loaded, else the run of that id loaded from ``ws``."""
    if isinstance(run, str):
        from tlcore.runs.store import load_run

        return load_run(ws, run)
    return run
