"""Integration: the shipped EfficientNet-Lite0 weights on the real digits demo, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.data import import_demo
from tlcore.data.augment import NO_AUGMENT, eval_transform
from tlcore.models.inference import predict_stored
from tlcore.runs.store import load_run, save_run
from tlcore.train.config import TrainConfig
from tlcore.train.loop import train
from tlcore.train.strategies import StrategyConfig
from tlcore.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    dataset, report = import_demo(ws)
    return ws, dataset


def test_feature_extraction_on_the_demo_learns_and_reloads_exactly(demo):
    ws, dataset = demo
    config = TrainConfig(strategy=StrategyConfig(name="feature-extraction", head_lr=1e-2), epochs=6,
                         augment=NO_AUGMENT, seed=0)
    result = train(ws, dataset, config)
    assert result.backbone.pretrained and "efficientnet-lite0" in result.backbone.weights_source
    assert result.cache_mode == "features"
    assert result.test_metrics["accuracy"] > 0.7  # chance is 0.1; pretrained features carry over to digits
    assert result.test_metrics["n"] == len(result.split.test) and len(result.split.test) > 200
    run = load_run(ws, save_run(ws, result, dataset))
    hashes = [dataset.hashes[i] for i in run.split.test]
    probs = predict_stored(run.model, ws, hashes, eval_transform(run.data_config, run.image_size))
    np.testing.assert_array_equal(probs, result.test_probs)


def test_gradual_unfreezing_on_the_demo_uses_cached_prefixes(demo):
    ws, dataset = demo
    config = TrainConfig(strategy=StrategyConfig(name="gradual", unfreeze_every=1, head_lr=1e-2), epochs=2,
                         augment=NO_AUGMENT, seed=0, patience=0)
    result = train(ws, dataset, config)
    assert [h["trainable_groups"] for h in result.history] == [0, 1]
    assert [h["inputs"] for h in result.history] == ["features", "prefix"]
    assert result.test_metrics["accuracy"] > 0.5
