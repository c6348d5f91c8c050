"""Feature and prefix caches: fills, reuse, invalidation, bounded memory, the batched image pipeline, and that
training, every CV fold and every head setting run the frozen part once per image."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from tests.synthetic import write_class_folder
from tests.conftest import TINY, ImageCounter, fresh_backbone
from tlcore.data import import_folder, load_image
from tlcore.data.augment import NO_AUGMENT, AugmentConfig, eval_transform, train_transform
from tlcore.data.loader import batched_images, split_transform, to_float_batch
from tlcore.errors import Cancelled, DatasetError, TlcoreError
from tlcore.events import PhaseStarted, Progress
from tlcore.metrics import classification_metrics
from tlcore.models.backbones import create_backbone
from tlcore.models.inference import iter_frozen, run_frozen
from tlcore.train.caches import CacheKey, cache_entries, cache_usage, cached_rows, clear_cache, load_rows
from tlcore.train.loop import TrainConfig, _balanced_accuracy, train
from tlcore.train.strategies import StrategyConfig
from tlcore.workspace import Workspace

KEY = CacheKey("b", "w", 32, "pre", "pooled")


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def dataset(ws, tmp_path):
    ds, _ = import_folder(ws, write_class_folder(tmp_path / "imgs", n_per_class=10, size=20))
    return ds


def rows_for(hashes: list[str], width: int = 3) -> np.ndarray:
    """Deterministic fake rows: each hash's row is derived from the hash itself."""
    return np.stack([np.full(width, int(h[:6], 16) % 1000, dtype=np.float32) for h in hashes])


class Compute:
    """A ``compute`` callable that records what it was asked for and yields rows in batches of ``batch``."""

    def __init__(self, width: int = 3, batch: int = 4) -> None:
        self.calls: list[list[str]] = []
        self.width, self.batch = width, batch

    def __call__(self, missing: list[str]):
        self.calls.append(list(missing))
        rows = rows_for(missing, self.width)
        return (rows[i:i + self.batch] for i in range(0, len(rows), self.batch))


HASHES = [f"{i:02x}" * 32 for i in range(1, 11)]


# ---------------------------------------------------------------------------------------------------------------
# cached_rows


def test_rows_are_computed_once_then_read_back(ws):
    compute = Compute()
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:6], compute)
    assert compute.calls == [HASHES[:6]] and stats.computed == 6
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:6]))
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:6], compute)
    assert len(compute.calls) == 1 and stats.computed == 0
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:6]))
    assert stats.nbytes == 6 * 3 * 4 and not stats.memory_mapped


def test_only_missing_rows_are_added_and_duplicates_computed_once(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:4], compute)
    asked = HASHES[2:8] + HASHES[2:4]
    rows, pos, stats = cached_rows(ws, KEY, asked, compute)
    assert compute.calls[1] == HASHES[4:8]
    assert stats.rows == 8 and stats.computed == 4 and stats.nbytes == 6 * 3 * 4 and stats.entry_nbytes == 8 * 12
    np.testing.assert_array_equal(rows[pos], rows_for(asked))
    assert len(list((ws.cache / KEY.digest()).glob("rows*.npy"))) == 1  # the older version was removed


def test_a_changed_key_is_a_separate_entry(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:3], compute)
    for change in ({"input_size": 40}, {"weights": "other"}, {"preprocessing": "p2"}, {"boundary": "stage-3"},
                   {"view": "aug-0/x/0"}, {"backbone": "c"}):
        key = replace(KEY, **change)
        assert key.digest() != KEY.digest()
        _, _, stats = cached_rows(ws, key, HASHES[:3], compute)
        assert stats.computed == 3
    assert len(compute.calls) == 7
    assert len(cache_entries(ws)) == 7


def test_large_entries_are_filled_and_read_memory_mapped(ws):
    compute = Compute(width=64, batch=3)
    limit = 5 * 64 * 4  # five rows fit in memory
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:8], compute, memory_limit=limit)
    assert stats.memory_mapped and isinstance(rows, np.memmap)
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:8], 64))
    rows, pos, stats = cached_rows(ws, KEY, HASHES, compute, memory_limit=limit)  # grows on disk
    assert stats.memory_mapped and stats.computed == 2
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES, 64))
    index, again = load_rows(ws, KEY, memory_limit=limit)
    assert isinstance(again, np.memmap) and len(index) == 10
    index, in_memory = load_rows(ws, KEY)
    assert not isinstance(in_memory, np.memmap)
    assert not list((ws.cache / KEY.digest()).glob(".*tmp"))


def test_a_failed_fill_keeps_the_previous_entry_and_leaves_no_temp_files(ws):
    cached_rows(ws, KEY, HASHES[:3], Compute())

    def cancelled(missing):
        yield rows_for(missing[:1])
        raise Cancelled("cancelled by the user")

    for limit in (1 << 30, 8):  # in memory and memory-mapped
        with pytest.raises(Cancelled):
            cached_rows(ws, KEY, HASHES[:6], cancelled, memory_limit=limit)
        index, rows = load_rows(ws, KEY)
        assert list(index) == HASHES[:3]
        np.testing.assert_array_equal(rows, rows_for(HASHES[:3]))
        names = sorted(p.name for p in (ws.cache / KEY.digest()).iterdir() if p.name != ".lock")
        assert len(names) == 2 and names[0] == "meta.json" and names[1].startswith("rows-")  # no temp file left


def test_a_second_filler_waits_for_the_first_and_reuses_its_rows(ws):
    started, release = threading.Event(), threading.Event()
    slow, fast = Compute(), Compute()

    def slow_compute(missing):
        started.set()
        assert release.wait(30)
        return slow(missing)

    first = threading.Thread(target=cached_rows, args=(ws, KEY, HASHES[:5], slow_compute))
    first.start()
    assert started.wait(30)
    second_result = []
    second = threading.Thread(target=lambda: second_result.append(cached_rows(ws, KEY, HASHES[:5], fast)))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the entry's lock, not computing the same rows again
    release.set()
    first.join(30)
    second.join(30)
    assert slow.calls == [HASHES[:5]] and fast.calls == []
    rows, pos, stats = second_result[0]
    assert stats.computed == 0
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:5]))


def test_a_compute_that_returns_the_wrong_number_of_rows_is_refused(ws):
    with pytest.raises(TlcoreError, match="got 2 rows for 3 images"):
        cached_rows(ws, KEY, HASHES[:3], lambda missing: rows_for(missing[:2]))
    with pytest.raises(TlcoreError, match="more rows"):
        cached_rows(ws, KEY, HASHES[:3], lambda missing: [rows_for(missing), rows_for(missing)])
    assert load_rows(ws, KEY) is None


def test_an_unreadable_entry_is_ignored_and_refilled(ws):
    compute = Compute()
    cached_rows(ws, KEY, HASHES[:3], compute)
    (ws.cache / KEY.digest() / "meta.json").write_text("{broken")
    rows, pos, stats = cached_rows(ws, KEY, HASHES[:3], compute)
    assert stats.computed == 3
    np.testing.assert_array_equal(rows[pos], rows_for(HASHES[:3]))


def test_entries_are_listed_measured_and_cleared(ws):
    cached_rows(ws, KEY, HASHES[:4], Compute(width=5))
    (entry,) = cache_entries(ws)
    assert entry.key["boundary"] == "pooled" and entry.rows == 4 and entry.row_shape == (5,)
    assert entry.nbytes == cache_usage(ws) > 4 * 5 * 4
    assert clear_cache(ws) == entry.nbytes
    assert cache_entries(ws) == [] and cache_usage(ws) == 0


# ---------------------------------------------------------------------------------------------------------------
# The image pipeline


@pytest.fixture
def tiny_config():
    return create_backbone(TINY, pretrained=False).data_config


def test_batches_equal_the_transform_applied_image_by_image(ws, dataset, tiny_config):
    tf = eval_transform(tiny_config, 32)
    assert split_transform(tf) is not None
    hashes = dataset.hashes[:10]
    batches = list(batched_images(ws, hashes, tf, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.is_contiguous(memory_format=torch.channels_last) for b in batches)
    expected = torch.stack([tf(load_image(ws, h)) for h in hashes])
    assert torch.equal(torch.cat(batches), expected)  # bit for bit, so cached and uncached inputs agree
    assert torch.equal(torch.cat(list(batched_images(ws, hashes, tf, batch_size=4, prefetch=0))), expected)


def test_seeded_augmentations_do_not_depend_on_batching(ws, dataset, tiny_config):
    tf = train_transform(tiny_config, AugmentConfig(vflip=True, rotation=30, color=0.3), 32)
    hashes, seeds = dataset.hashes[:6], list(range(100, 106))
    a = torch.cat(list(batched_images(ws, hashes, tf, batch_size=4, seeds=seeds)))
    b = torch.cat(list(batched_images(ws, hashes, tf, batch_size=6, seeds=seeds, prefetch=0)))
    assert torch.equal(a, b)
    expected = []
    for h, seed in zip(hashes, seeds):
        torch.manual_seed(seed)
        expected.append(tf(load_image(ws, h)))
    assert torch.equal(a, torch.stack(expected))
    state = torch.random.get_rng_state()
    list(batched_images(ws, hashes, tf, batch_size=4, seeds=seeds, prefetch=0))
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG stream is untouched


def test_other_transforms_are_applied_as_they_are(ws, dataset):
    def transform(image):
        return torch.from_numpy(np.asarray(image.resize((8, 8)), dtype=np.float32)).permute(2, 0, 1) / 7

    assert split_transform(transform) is None
    got = torch.cat(list(batched_images(ws, dataset.hashes[:5], transform, batch_size=2)))
    assert torch.equal(got, torch.stack([transform(load_image(ws, h)) for h in dataset.hashes[:5]]))


def test_to_float_batch_normalises_like_torchvision():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 5, 4, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # stds whose reciprocals are inexact
    x = to_float_batch(images, mean, std)
    assert x.shape == (3, 3, 5, 4) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    to_float = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    ref = torch.stack([to_float(torch.from_numpy(image).permute(2, 0, 1)) for image in images])
    assert torch.equal(x, ref)  # bit for bit


def test_a_loader_error_reaches_the_caller(ws, dataset, tiny_config):
    hashes = dataset.hashes[:6] + ["0" * 64]
    with pytest.raises(DatasetError, match="missing from the workspace"):
        list(batched_images(ws, hashes, eval_transform(tiny_config, 32), batch_size=2))


def test_iter_frozen_streams_batches_reports_progress_and_restores_the_mode(ws, dataset):
    backbone = fresh_backbone()
    model = backbone.model.train()
    events = []
    tf = eval_transform(backbone.data_config, 32)
    batches = list(iter_frozen(model, ws, dataset.hashes[:9], tf, "features", events.append, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 1] and model.training
    assert isinstance(events[0], PhaseStarted) and events[0].phase == "features"
    assert [e for e in events if isinstance(e, Progress)][-1].done == 9
    with torch.inference_mode():
        expected = model.eval()(torch.stack([tf(load_image(ws, h)) for h in dataset.hashes[:9]]))
    np.testing.assert_allclose(np.concatenate(batches), expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(run_frozen(model, ws, dataset.hashes[:9], tf, "again", batch_size=4),
                                  np.concatenate(batches))


# ---------------------------------------------------------------------------------------------------------------
# Training, cross-validation and head settings use the caches


def config(strategy: str | StrategyConfig = "feature-extraction", **kw) -> TrainConfig:
    s = strategy if isinstance(strategy, StrategyConfig) else StrategyConfig(name=strategy, fine_tune_groups=2,
                                                                            head_lr=1e-2)
    base = TrainConfig(backbone=TINY, strategy=s, epochs=3, batch_size=8, patience=0, augment=NO_AUGMENT,
                       image_size=32, val_fraction=0.2, test_fraction=0.2, seed=0)
    return replace(base, **kw)


def test_a_whole_cross_validation_runs_the_backbone_once_per_image(ws, dataset):
    from tlcore.evaluate.cv import cross_validate

    counters = []

    def factory(cfg):
        backbone = fresh_backbone()
        counters.append(ImageCounter(backbone.model))
        return backbone

    result = cross_validate(ws, dataset, config(epochs=4), k=5, backbone_factory=factory)
    assert len(counters) == 5 and {f.cache_mode for f in result.result.folds} == {"features"}
    assert sum(c.images for c in counters) == len(set(dataset.hashes))  # every image once, over all folds
    assert counters[0].images > 0 and all(c.images == 0 for c in counters[1:])


def test_other_head_settings_and_epochs_reuse_the_features(ws, dataset):
    first = train(ws, dataset, config(), backbone=fresh_backbone(), test_from_cache=True)
    for change in ({"epochs": 5}, {"strategy": StrategyConfig(head="mlp", hidden=16, head_lr=0.05)},
                   {"label_smoothing": 0.1, "class_weighted": True, "schedule": "onecycle"}):
        backbone = fresh_backbone()
        counter = ImageCounter(backbone.model)
        result = train(ws, dataset, config(**change), backbone=backbone, test_from_cache=True)
        assert counter.images == 0 and result.cache_mode == "features"
    assert first.cache_bytes == (len(first.split.train) + len(first.split.val)) * first.backbone.num_features * 4


def test_the_prefix_cache_gives_the_same_run_in_memory_and_memory_mapped(ws, dataset):
    in_memory = train(ws, dataset, config("fine-tune"), backbone=fresh_backbone())
    clear_cache(ws)
    mapped = train(ws, dataset, config("fine-tune", memory_limit=1024), backbone=fresh_backbone())
    assert in_memory.cache_mode == mapped.cache_mode == "prefix"
    assert [e for e in cache_entries(ws) if e.key["boundary"].startswith("stage-")][0].nbytes > 1024
    np.testing.assert_array_equal(in_memory.test_probs, mapped.test_probs)
    assert [h["train_loss"] for h in in_memory.history] == [h["train_loss"] for h in mapped.history]


def test_the_best_epoch_is_restored_including_groups_that_unfroze_later(ws, dataset):
    backbone = fresh_backbone()
    initial = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    strategy = StrategyConfig(name="gradual", unfreeze_every=1, head_lr=1e-12)
    result = train(ws, dataset, config(strategy, epochs=6, patience=2, monitor="val_accuracy"), backbone=backbone)
    assert result.stopped_early and result.best_epoch == 1
    assert result.history[-1]["trainable_groups"] >= 1  # later epochs trained some groups (and their BatchNorm)
    state = result.model.backbone.state_dict()
    changed = [k for k in initial if not torch.equal(initial[k], state[k])]
    assert changed == []  # restored to epoch 1, when the whole backbone was still frozen


def test_the_per_epoch_balanced_accuracy_matches_the_metrics_module():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=50)
    labels[labels == 2] = 1  # class 2 absent from the labels
    probs = rng.dirichlet(np.ones(5), size=50)
    expected = classification_metrics(labels, probs, list("abcde"))["balanced_accuracy"]
    assert _balanced_accuracy(labels, probs, 5) == pytest.approx(expected)
    assert np.isnan(_balanced_accuracy(np.zeros(0, dtype=np.int64), np.zeros((0, 5)), 5))
