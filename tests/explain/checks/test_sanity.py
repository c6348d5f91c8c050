"""Cascading randomisation: a model-blind edge detector is flagged, Integrated Gradients on a trained model passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.explain.conftest import blob_images, tiny_transfer_model
from tlcore.explain import ExplainConfig, hook_count, rank_correlation, sanity_check
from tlcore.explain.checks.sanity import _cascade, layers_top_down


def sobel_edges(model: nn.Module, x: Tensor, targets) -> np.ndarray:
    """An "attribution method" that never looks at the model: the image's edge strength."""
    grey = x.mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None]
    gx, gy = F.conv2d(grey, kx, padding=1), F.conv2d(grey, kx.transpose(-1, -2), padding=1)
    return (gx**2 + gy**2).sqrt()[:, 0].numpy()


@pytest.fixture(scope="module")
def blob_test_images():
    x, y = blob_images(4, 101)
    return x, y.tolist()


def test_edge_detector_is_flagged(trained_blob_net, blob_test_images):
    x, y = blob_test_images
    result = sanity_check(trained_blob_net, x, y, ExplainConfig("saliency"), attribute=sobel_edges, label="Edges")
    assert [s.correlation for s in result.steps] == pytest.approx([1.0] * len(result.steps))
    assert not result.passed and result.per_image_passed == (False,) * 4
    assert result.method == "Edges" and result.verdict.startswith("Edges fails")


def test_integrated_gradients_passes_on_a_trained_model(trained_blob_net, blob_test_images):
    x, y = blob_test_images
    with torch.no_grad():
        assert (trained_blob_net(x).argmax(1) == torch.tensor(y)).all()  # the model did learn the task
    params = {k: v.clone() for k, v in trained_blob_net.state_dict().items()}
    result = sanity_check(trained_blob_net, x, y, ExplainConfig("integrated-gradients"))
    assert result.passed, result.verdict
    assert result.final_correlation < 0.5
    assert result.steps[0].label == "8" and result.steps[-1].label == "0"  # top (the Linear) first, input conv last
    assert [s.layers for s in result.steps] == [1, 2, 3, 4]
    assert result.verdict.startswith("Integrated Gradients passes")
    # the caller's model is untouched: same weights, no hooks
    assert all(torch.equal(params[k], v) for k, v in trained_blob_net.state_dict().items())
    assert hook_count(trained_blob_net) == 0


def test_sanity_check_on_a_transfer_model_walks_backbone_then_head():
    model = tiny_transfer_model("timm/test_vit")
    layers = [name for name, _ in layers_top_down(model, torch.randn(1, 3, 160, 160))]
    assert layers[0] == "head.1" and layers[-1] in ("backbone", "backbone.patch_embed.proj")
    result = sanity_check(model, torch.randn(2, 3, 160, 160), [0, 1], ExplainConfig("gradcam"), max_steps=3)
    assert len(result.steps) == 3 and result.steps[-1].layers == len(layers)
    assert all(np.isfinite(s.correlation) for s in result.steps)


def test_rank_correlation_and_cascade_split():
    a = np.arange(16.0).reshape(4, 4)
    assert rank_correlation(a, a * 3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(1.0)  # absolute values are compared
    assert rank_correlation(a, np.zeros((4, 4))) == 0.0
    assert _cascade(1, 5) == [1]
    assert _cascade(10, 4) == [1, 3, 3, 3]
    assert sum(_cascade(57, 5)) == 57
