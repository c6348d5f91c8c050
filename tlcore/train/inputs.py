"""The inputs an epoch trains on, for a given number of trainable block groups.

Everything before the first trainable group is frozen, so its output never changes: :class:`CachedInputs` computes
it once per image (:mod:`tlcore.train.caches`) and runs only the trainable tail and the head — on pooled features
(``features``), on the activations entering the first trainable stage (``prefix``), or, with augmentation on, on a
fixed bank of augmented views per image (``aug-bank``). Only when nothing is frozen (full fine-tuning, from
scratch), the cache is off or the backbone can't be split into stages do :class:`ImageInputs` load (and augment)
images on the fly and run the whole network every step (``none``).

:class:`InputPipeline` picks one of them for each stretch of epochs; both have the :class:`EpochInputs` interface.
"""

from __future__ import annotations

import functools
import hashlib
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from tlcore.data.augment import NO_AUGMENT, AugmentConfig, Transform, eval_transform, train_transform
from tlcore.data.loader import batched_images
from tlcore.events import CancelToken, EventCallback
from tlcore.models.inference import iter_frozen
from tlcore.train.caches import CacheKey, cached_rows
from tlcore.train.config import TrainConfig
from tlcore.workspace import Workspace

if TYPE_CHECKING:
    import torch

    from tlcore.data import Dataset, Split
    from tlcore.models.factory import Backbone
    from tlcore.models.transfer import TransferModel

Batch = tuple["torch.Tensor", "torch.Tensor"]  # inputs, labels
Rows = tuple[np.ndarray, np.ndarray, int]  # a cache entry's rows, the positions of the images asked for, bytes


def stable_seed(*parts: Any) -> int:
    """A seed that depends only on ``parts`` (not on Python's hash randomisation)."""
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def weights_identity(backbone: "Backbone", weights_file: str | None) -> str:
    """What identifies the frozen weights in a cache key: their source, plus a content hash where the source
    alone doesn't pin them down (a user's file, or a random initialisation)."""
    digest = hashlib.sha256()
    if weights_file:
        with open(weights_file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    elif not backbone.pretrained:
        for name, tensor in backbone.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    else:
        return backbone.weights_source
    return f"{backbone.weights_source}|sha256:{digest.hexdigest()}"


class EpochInputs(ABC):
    """Inputs for one stretch of epochs during which the same groups are frozen.

    ``mode`` says what the trainable part trains on (features | prefix | aug-bank | none); ``cache_bytes`` how much
    cached data that takes.
    """

    mode: str = "none"
    cache_bytes: int = 0

    @abstractmethod
    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        """The trainable part: inputs (as the batches give them) -> logits."""
        raise NotImplementedError

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterator[Batch]:
        """Shuffled training batches for ``epoch`` (0-based)."""
        raise NotImplementedError

    @abstractmethod
    def val_batches(self) -> Iterator[Batch]:
        """The validation batches, in order."""
        raise NotImplementedError

    @property
    def scores_from_cache(self) -> bool:
        """Whether :meth:`cached_inputs` can give the frozen part's outputs for any images."""
        return False

    def cached_inputs(self, indices: np.ndarray) -> Iterator["torch.Tensor"]:
        """Batches of the frozen part's outputs for the dataset records ``indices`` (in order)."""
        raise NotImplementedError(f"inputs of mode {self.mode!r} are not cached")


class InputPipeline:
    """What one call of :func:`tlcore.train.loop.train` shares between its stretches of epochs: the images, the
    transforms and the caches of the frozen part. Call :meth:`inputs` whenever the number of trainable groups
    changes; ``feature_seconds`` adds up the time spent filling caches."""

    def __init__(self, ws: Workspace, dataset: "Dataset", split: "Split", model: "TransferModel",
                 backbone: "Backbone", config: TrainConfig, on_event: EventCallback, cancel: CancelToken) -> None:
        import torch

        self.ws, self.split, self.model, self.backbone = ws, split, model, backbone
        self.config, self.on_event, self.cancel = config, on_event, cancel
        self.hashes = dataset.hashes
        self.labels = torch.as_tensor(dataset.labels, dtype=torch.long)
        self.size = config.image_size or backbone.data_config.input_size
        self.eval_tf = eval_transform(backbone.data_config, self.size)
        self.train_tf = train_transform(backbone.data_config, config.augment, self.size)
        self.weights_id = weights_identity(backbone, config.weights_file)
        self.feature_seconds = 0.0

    def inputs(self, n_trainable: int) -> EpochInputs:
        """Cached or uncached inputs for ``n_trainable`` trainable groups (counted from the top)."""
        n_groups = len(self.backbone.groups)
        frozen = n_groups - n_trainable
        if self.config.cache and frozen > 0 and (frozen >= n_groups or self.backbone.stages is not None):
            return CachedInputs(self, frozen)
        return ImageInputs(self, frozen)

    def batch_order(self, epoch: int, n: int) -> Iterator[np.ndarray]:
        """Shuffled mini-batches of positions 0..n-1 for ``epoch``; a last batch of one sample is dropped."""
        perm = np.random.default_rng(stable_seed(self.config.seed, "shuffle", epoch)).permutation(n)
        bs = self.config.batch_size
        for i in range(0, n, bs):
            batch = perm[i:i + bs]
            if len(batch) == 1 and n > 1:
                return  # batch norm can't train on a single sample
            yield batch

    def split_stages(self, frozen_stages: int) -> tuple["torch.nn.Module", "torch.nn.Module"]:
        """The frozen stages and the trainable tail, both channels-last like the model (its global pool keeps the
        gradient's layout, see :mod:`tlcore.models.layers`, so the tail's BatchNorm backward stays on the fast
        path)."""
        import torch

        stages = self.backbone.stages
        if stages is None:
            raise RuntimeError(f"backbone {self.backbone.name!r} has no stages to split after {frozen_stages}")
        return torch.nn.Sequential(*stages[:frozen_stages]), torch.nn.Sequential(*stages[frozen_stages:])

    def frozen_rows(self, frozen: "torch.nn.Module", boundary: str, indices: np.ndarray, view: str = "eval",
                    augment: AugmentConfig = NO_AUGMENT) -> Rows:
        """Cached outputs of the frozen part for ``indices`` (rows + positions), computing missing ones once."""
        hashes = [self.hashes[i] for i in indices]
        transform = self.eval_tf if view == "eval" else self.train_tf
        compute = functools.partial(self._compute_rows, frozen, transform, view)
        start = time.perf_counter()
        rows, positions, stats = cached_rows(self.ws, self._key(boundary, view), hashes, compute,
                                             self.config.memory_limit)
        if stats.computed:
            self.feature_seconds += time.perf_counter() - start
        return rows, positions, stats.nbytes

    def _compute_rows(self, frozen: "torch.nn.Module", transform: "Transform", view: str,
                      missing: list[str]) -> Iterator[np.ndarray]:
        """The frozen part's outputs for ``missing``, streamed so that a large fill goes straight to disk."""
        seeds = None if view == "eval" else [stable_seed(self.config.seed, view, h) for h in missing]
        phase = "features" if view == "eval" else f"augmented features ({view.split('/')[0]})"
        return iter_frozen(frozen, self.ws, missing, transform, phase, self.on_event, self.cancel, seeds=seeds)

    def _key(self, boundary: str, view: str = "eval") -> CacheKey:
        dc = self.backbone.data_config
        pre = f"mean={dc.mean} std={dc.std} interp={dc.interpolation} crop={dc.crop_pct}"
        return CacheKey(self.backbone.name, self.weights_id, self.size, pre, boundary, view)


class CachedInputs(EpochInputs):
    """The first ``frozen_stages`` stages (or the whole backbone) are frozen: their outputs come from the cache."""

    def __init__(self, pipeline: InputPipeline, frozen_stages: int) -> None:
        self.pipeline = pipeline
        cfg, model = pipeline.config, pipeline.model
        self.tail: "torch.nn.Module | None"
        if frozen_stages >= len(pipeline.backbone.groups):
            self.frozen, self.boundary, self.tail = model.backbone, "pooled", None
        else:
            self.frozen, self.tail = pipeline.split_stages(frozen_stages)
            self.boundary = f"stage-{frozen_stages}"
        train_idx, val_idx = pipeline.split.train, pipeline.split.val
        if cfg.augment.enabled:
            if len(val_idx):
                self.val_rows, self.val_pos, nbytes = pipeline.frozen_rows(self.frozen, self.boundary, val_idx)
            else:  # nothing held out (a refit on every non-test image, a range test): no eval-view rows needed
                self.val_rows, self.val_pos, nbytes = np.zeros((0,), np.float32), np.zeros(0, np.int64), 0
            self.bank = [pipeline.frozen_rows(self.frozen, self.boundary, train_idx,
                                              f"aug-{v}/{cfg.augment}/{cfg.seed}", cfg.augment)
                         for v in range(cfg.aug_views)]
            self.cache_bytes = nbytes + sum(b[2] for b in self.bank)
            self.mode = "aug-bank"
        else:  # one pass over train and validation images together
            rows, pos, nbytes = pipeline.frozen_rows(self.frozen, self.boundary, np.concatenate([train_idx, val_idx]))
            self.bank = [(rows, pos[:len(train_idx)], nbytes)]
            self.val_rows, self.val_pos = rows, pos[len(train_idx):]
            self.cache_bytes = nbytes
            self.mode = "features" if self.tail is None else "prefix"

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        head = self.pipeline.model.head
        if self.tail is None:
            return head(x)
        return head(self.tail(x.contiguous(memory_format=torch.channels_last)))  # rows are stored NCHW

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        import torch

        p, bank = self.pipeline, self.bank
        train_idx = p.split.train
        gen = np.random.default_rng(stable_seed(p.config.seed, "views", epoch))
        views = gen.integers(0, len(bank), size=len(train_idx))
        for batch in p.batch_order(epoch, len(train_idx)):
            if len(bank) == 1:  # exact features: one gather
                x = np.asarray(bank[0][0][bank[0][1][batch]], dtype=np.float32)
            else:
                x = np.empty((len(batch), *bank[0][0].shape[1:]), dtype=np.float32)
                batch_views = views[batch]
                for v, (rows, positions, _) in enumerate(bank):  # one gather per view and batch
                    pick = batch_views == v
                    if pick.any():
                        x[pick] = rows[positions[batch[pick]]]
            yield torch.from_numpy(x), p.labels[train_idx[batch]]

    def val_batches(self) -> Iterator[Batch]:
        import torch

        p, bs = self.pipeline, self.pipeline.config.batch_size
        val_idx = p.split.val
        for i in range(0, len(val_idx), bs):
            pos = self.val_pos[i:i + bs]
            yield torch.from_numpy(np.asarray(self.val_rows[pos])), p.labels[val_idx[i:i + bs]]

    @property
    def scores_from_cache(self) -> bool:
        return True

    def cached_inputs(self, indices: np.ndarray) -> Iterator["torch.Tensor"]:
        import torch

        rows, pos, _ = self.pipeline.frozen_rows(self.frozen, self.boundary, indices)
        bs = self.pipeline.config.batch_size
        for i in range(0, len(indices), bs):
            yield torch.from_numpy(np.asarray(rows[pos[i:i + bs]]))


class ImageInputs(EpochInputs):
    """The whole network runs every step on images loaded (and augmented) on the fly; a frozen stage prefix, if
    any, runs without remembering anything for backward."""

    mode = "none"

    def __init__(self, pipeline: InputPipeline, frozen_stages: int = 0) -> None:
        self.pipeline = pipeline
        self.prefix: "torch.nn.Module | None" = None
        self.tail: "torch.nn.Module | None" = None
        if 0 < frozen_stages < len(pipeline.backbone.groups) and pipeline.backbone.stages is not None:
            self.prefix, self.tail = pipeline.split_stages(frozen_stages)  # the same layouts as the prefix cache
        self.augment = pipeline.config.augment.enabled
        self.transform = pipeline.train_tf if self.augment else pipeline.eval_tf
        self._val_tensors: list["torch.Tensor"] = []  # decoded and preprocessed once, kept for every epoch

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        model = self.pipeline.model
        if self.prefix is None or self.tail is None:
            return model(x)
        with torch.no_grad():  # frozen: nothing to remember for backward
            x = self.prefix(x)
        return model.head(self.tail(x))

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        p = self.pipeline
        cfg, train_idx = p.config, p.split.train
        batches = list(p.batch_order(epoch, len(train_idx)))
        if not self.augment:  # no random numbers involved: decode the epoch ahead in the loader thread
            hashes = [p.hashes[train_idx[i]] for batch in batches for i in batch]
            images = batched_images(p.ws, hashes, self.transform, cfg.batch_size)
            for batch, x in zip(batches, images):
                yield x, p.labels[train_idx[batch]]
            return
        for batch in batches:  # seeded per image in this thread, as dropout draws from the same global RNG
            hashes = [p.hashes[train_idx[i]] for i in batch]
            seeds = [stable_seed(cfg.seed, "aug", epoch, train_idx[i]) for i in batch]
            x = next(batched_images(p.ws, hashes, self.transform, len(hashes), seeds=seeds, prefetch=0))
            yield x, p.labels[train_idx[batch]]

    def val_batches(self) -> Iterator[Batch]:
        p, bs = self.pipeline, self.pipeline.config.batch_size
        val_idx = p.split.val
        if not self._val_tensors:
            self._val_tensors.extend(batched_images(p.ws, [p.hashes[i] for i in val_idx], p.eval_tf, bs))
        for j, x in enumerate(self._val_tensors):
            yield x, p.labels[val_idx[j * bs:(j + 1) * bs]]
