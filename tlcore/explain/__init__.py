"""Attribution maps (Captum), Grad-CAM, overlays, sanity checks, faithfulness and the review report.

One call shape for every method: ``explain(model, inputs, targets, ExplainConfig(method)) -> [Attribution]``.
"""

from __future__ import annotations

from tlcore.explain.api import explain, method_availability, predict_proba, predicted_targets
from tlcore.explain.config import METHOD_NAMES, Attribution, ExplainConfig
from tlcore.explain.errors import ExplainError, MethodUnavailable
from tlcore.explain.faithfulness import Faithfulness, faithfulness
from tlcore.explain.guard import borrowed, hook_count
from tlcore.explain.layers import CamLayer, find_cam_layer
from tlcore.explain.methods import METHODS, MethodInfo
from tlcore.explain.overlay import CMAPS, SIGNS, colorbar, colorize, normalize_map, overlay, resize_map
from tlcore.explain.report import SECTIONS, GalleryItem, ReportData, png_data_uri, render_report, write_report
from tlcore.explain.run_report import build_run_report, write_run_report
from tlcore.explain.runs import (
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
from tlcore.explain.sanity import SanityResult, SanityStep, rank_correlation, sanity_check
from tlcore.explain.saved import load_explanation, save_explanation

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
