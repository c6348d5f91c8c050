"""Running the frozen part (tlcore.models.inference): streamed batches, progress events, the module's mode."""

from __future__ import annotations

import numpy as np
import torch

from tests.conftest import fresh_backbone
from tlcore.data import load_image
from tlcore.data.augment import eval_transform
from tlcore.events import PhaseStarted, Progress
from tlcore.models.inference import iter_frozen, run_frozen


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
