"""The attribution methods on offer: names, labels, speed class, a plain-words description.

Not offered, on purpose: GuidedBackprop, Guided Grad-CAM and DeepLift. Captum implements them with hooks
that override ``nn.ReLU`` modules only; EfficientNet-Lite (our default backbone) uses ``nn.ReLU6``, so
GuidedBackprop silently returns the plain gradient and DeepLift's attributions stop adding up to the
output difference. The six methods here depend only on autograd (and a layer hook for Grad-CAM), so they
behave the same on every activation function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from tlcore.explain import gradcam, gradient_shap, integrated_gradients, occlusion, saliency, smoothgrad
from tlcore.explain.common import MethodFn
from tlcore.explain.config import ExplainConfig


@dataclass(frozen=True)
class MethodInfo:
    """A catalogue row for pages and the CLI."""

    name: str  # the name used in configs and on the command line
    label: str
    speed: str  # "instant" (well under a second per image) | "job" (run in the background)
    description: str


METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo(
            "gradcam", "Grad-CAM", "instant",
            "Which regions of the last feature map raise the class score; coarse but robust.",
        ),
        MethodInfo(
            "saliency", "Saliency", "instant",
            "How strongly each pixel's gradient moves the class score; sharp but noisy.",
        ),
        MethodInfo(
            "smoothgrad", "SmoothGrad", "instant",
            "Saliency averaged over noisy copies of the image; less noise, same idea.",
        ),
        MethodInfo(
            "gradient-shap", "GradientShap", "job",
            "Gradients times input averaged between the image and a plain reference; signed evidence.",
        ),
        MethodInfo(
            "integrated-gradients", "Integrated Gradients", "job",
            "Gradients summed along the path from a plain reference to the image; the map adds up to the "
            "score difference.",
        ),
        MethodInfo(
            "occlusion", "Occlusion", "job",
            "How much the class score drops when a square of the image is hidden; slow, model-agnostic.",
        ),
    )
}

Prepare = Callable[[nn.Module, Tensor, ExplainConfig], MethodFn]

PREPARE: dict[str, Prepare] = {
    "saliency": saliency.prepare,
    "integrated-gradients": integrated_gradients.prepare,
    "gradient-shap": gradient_shap.prepare,
    "occlusion": occlusion.prepare,
    "gradcam": gradcam.prepare,
    "smoothgrad": smoothgrad.prepare,
}

# Images per attribution call: batching helps the cheap methods; the others batch internally.
BATCHED = frozenset({"saliency", "gradcam"})
