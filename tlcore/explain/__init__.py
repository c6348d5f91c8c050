"""Attribution maps (Captum), Grad-CAM, overlays, sanity checks, faithfulness and the review report.

One call shape for every method: ``explain(model, inputs, targets, ExplainConfig(method)) -> [Attribution]``.
The public names are re-exported flat from here. The light ones (configs, the method catalogue, overlays, the
HTML report) are imported with the package; those that need torch, Captum or scipy are imported on first use,
so ``from tlcore.explain.config import METHOD_NAMES`` (the CLI's parser) loads neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tlcore.explain.config import METHOD_NAMES, Attribution, ExplainConfig
from tlcore.explain.errors import ExplainError, MethodUnavailable
from tlcore.explain.methods import METHODS, MethodInfo
from tlcore.explain.overlay import CMAPS, SIGNS, colorbar, colorize, normalize_map, overlay, resize_map
from tlcore.explain.report import SECTIONS, GalleryItem, ReportData, png_data_uri, render_report, write_report

if TYPE_CHECKING:
    from tlcore.explain.api import explain, method_availability, predict_proba, predicted_targets
    from tlcore.explain.archive import load_explanation, save_explanation
    from tlcore.explain.cam_layers import CamLayer, find_cam_layer
    from tlcore.explain.checks.faithfulness import Faithfulness, faithfulness
    from tlcore.explain.checks.sanity import SanityResult, SanityStep, rank_correlation, sanity_check
    from tlcore.explain.guard import borrowed, hook_count
    from tlcore.explain.run_images import (
        FILTERS,
        ExplainedImage,
        RunExplanation,
        TestPick,
        explain_run,
        explain_test_images,
        model_inputs,
        pick_test_images,
        resolve_target,
    )
    from tlcore.explain.run_report import build_run_report, write_run_report

# Imported on first use: module -> the public names it defines.
_LAZY = {
    "tlcore.explain.api": ("explain", "method_availability", "predict_proba", "predicted_targets"),
    "tlcore.explain.archive": ("load_explanation", "save_explanation"),
    "tlcore.explain.cam_layers": ("CamLayer", "find_cam_layer"),
    "tlcore.explain.checks.faithfulness": ("Faithfulness", "faithfulness"),
    "tlcore.explain.checks.sanity": ("SanityResult", "SanityStep", "rank_correlation", "sanity_check"),
    "tlcore.explain.guard": ("borrowed", "hook_count"),
    "tlcore.explain.run_images": ("FILTERS", "ExplainedImage", "RunExplanation", "TestPick", "explain_run",
                                  "explain_test_images", "model_inputs", "pick_test_images", "resolve_target"),
    "tlcore.explain.run_report": ("build_run_report", "write_run_report"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import a heavy public name from its module the first time it is asked for."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "Attribution",
    "CMAPS",
    "CamLayer",
    "ExplainConfig",
    "ExplainError",
    "ExplainedImage",
    "FILTERS",
    "Faithfulness",
    "GalleryItem",
    "METHODS",
    "METHOD_NAMES",
    "MethodInfo",
    "MethodUnavailable",
    "ReportData",
    "RunExplanation",
    "SECTIONS",
    "SIGNS",
    "SanityResult",
    "SanityStep",
    "TestPick",
    "borrowed",
    "build_run_report",
    "colorbar",
    "colorize",
    "explain",
    "explain_run",
    "explain_test_images",
    "faithfulness",
    "find_cam_layer",
    "hook_count",
    "load_explanation",
    "method_availability",
    "model_inputs",
    "normalize_map",
    "overlay",
    "pick_test_images",
    "png_data_uri",
    "predict_proba",
    "predicted_targets",
    "rank_correlation",
    "render_report",
    "resize_map",
    "resolve_target",
    "sanity_check",
    "save_explanation",
    "write_report",
    "write_run_report",
]
