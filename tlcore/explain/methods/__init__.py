"""The attribution methods on offer: one file per method in this package, one row per method in :data:`METHODS`
(its name also goes into :data:`tlcore.explain.config.METHOD_NAMES`).

A method file defines ``prepare(model, example, config) -> MethodFn`` (see :mod:`tlcore.explain.methods.common`):
set the method up once for a model, get back a function that maps a batch of images to maps. This module is the
catalogue only (names, labels, speed class, a plain-words description): it imports no torch or Captum, so the
CLI's argument parser and the pages can list the methods cheaply; :meth:`MethodInfo.prepare` imports the
method's file when a map is first computed.

Not offered, on purpose: GuidedBackprop, Guided Grad-CAM and DeepLift. Captum implements them with hooks
that override ``nn.ReLU`` modules only; EfficientNet-Lite (our default backbone) uses ``nn.ReLU6``, so
GuidedBackprop silently returns the plain gradient and DeepLift's attributions stop adding up to the
output difference. The six methods here depend only on autograd (and a layer hook for Grad-CAM), so they
behave the same on every activation function.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor, nn

    from tlcore.explain.config import ExplainConfig
    from tlcore.explain.methods.common import MethodFn

@dataclass(frozen=True)
class MethodInfo:
    """A catalogue row for pages and the CLI, and the way to the method's code."""

    name: str  # the name used in configs and on the command line
    label: str
    speed: str  # "instant" (well under a second per image) | "job" (run in the background)
    description: str
    module: str  # the file in tlcore/explain/methods/ that defines prepare()
    batched: bool = False  # several images per attribution call (helps the cheap methods; others batch inside)
    gradients: bool = True  # needs gradients to flow from the model's output back to the image

    def prepare(self, model: nn.Module, example: Tensor, config: ExplainConfig) -> MethodFn:
        """Set the method up for ``model`` (``example``: one normalised image batch) and return its function."""
        code = importlib.import_module(f"{__name__}.{self.module}")
        return code.prepare(model, example, config)


METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo(
            "gradcam", "Grad-CAM", "instant",
            "Which regions of the last feature map raise the class score; coarse but robust.",
            module="gradcam", batched=True,
        ),
        MethodInfo(
            "saliency", "Saliency", "instant",
            "How strongly each pixel's gradient moves the class score; sharp but noisy.",
            module="saliency", batched=True,
        ),
        MethodInfo(
            "smoothgrad", "SmoothGrad", "instant",
            "Saliency averaged over noisy copies of the image; less noise, same idea.",
            module="smoothgrad",
        ),
        MethodInfo(
            "gradient-shap", "GradientShap", "job",
            "Gradients times input averaged between the image and a plain reference; signed evidence.",
            module="gradient_shap",
        ),
        MethodInfo(
            "integrated-gradients", "Integrated Gradients", "job",
            "Gradients summed along the path from a plain reference to the image; the map adds up to the "
            "score difference.",
            module="integrated_gradients",
        ),
        MethodInfo(
            "occlusion", "Occlusion", "job",
            "How much the class score drops when a square of the image is hidden; slow, model-agnostic.",
            module="occlusion", gradients=False,
        ),
    )
}
