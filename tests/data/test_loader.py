"""The batched image pipeline (tlcore.data.loader): batches equal the transform image by image, seeded
augmentations, other transforms, normalisation and loader errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from tests.conftest import TINY
from tlcore.data import load_image
from tlcore.data.augment import AugmentConfig, eval_transform, train_transform
from tlcore.data.loader import batched_images, split_transform, to_float_batch
from tlcore.errors import DatasetError
from tlcore.models.factory import create_backbone


@pytest.fixture
def tiny_data_config():
    return create_backbone(TINY, pretrained=False).data_config


def test_batches_equal_the_transform_applied_image_by_image(ws, dataset, tiny_data_config):
    tf = eval_transform(tiny_data_config, 32)
    assert split_transform(tf) is not None
    hashes = dataset.hashes[:10]
    batches = list(batched_images(ws, hashes, tf, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.is_contiguous(memory_format=torch.channels_last) for b in batches)
    expected = torch.stack([tf(load_image(ws, h)) for h in hashes])
    assert torch.equal(torch.cat(batches), expected)  # bit for bit, so cached and uncached inputs agree
    assert torch.equal(torch.cat(list(batched_images(ws, hashes, tf, batch_size=4, prefetch=0))), expected)


def test_seeded_augmentations_do_not_depend_on_batching(ws, dataset, tiny_data_config):
    tf = train_transform(tiny_data_config, AugmentConfig(vflip=True, rotation=30, color=0.3), 32)
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


def test_a_loader_error_reaches_the_caller(ws, dataset, tiny_data_config):
    hashes = dataset.hashes[:6] + ["0" * 64]
    with pytest.raises(DatasetError, match="missing from the workspace"):
        list(batched_images(ws, hashes, eval_transform(tiny_data_config, 32), batch_size=2))
