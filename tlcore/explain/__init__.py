"""Attribution maps (Captum), Grad-CAM, overlays, sanity checks, faithfulness and the review report.

One call shape for every method: ``explain(model, inputs, targets, ExplainConfig(method)) -> [Attribution]``.
"""

from __future__ import annotations

from .api import explain, method_availability, predict_proba, predicted_targets
from .config import METHOD_NAMES, Attribution, ExplainConfig
from .errors import ExplainError, MethodUnavailable
from .faithfulness import Faithfulness, faithfulness
from .guard import borrowed, hook_count
from .layers import CamLayer, find_cam_layer
from .methods import METHODS, MethodInfo
from .overlay import CMAPS, SIGNS, colorbar, colorize, normalize_map, overlay, resize_map
from .report import SECTIONS, GalleryItem, ReportData, png_data_uri, render_report, write_report
from .sanity import SanityResult, SanityStep, rank_correlation, sanity_check

__all__ = [
    "Attribution",
    "CMAPS",
    "CamLayer",
    "ExplainConfig",
    "ExplainError",
    "Faithfulness",
    "GalleryItem",
    "METHODS",
    "METHOD_NAMES",
    "MethodInfo",
    "MethodUnavailable",
    "ReportData",
    "SECTIONS",
    "SIGNS",
    "SanityResult",
    "SanityStep",
    "borrowed",
    "colorbar",
    "colorize",
    "explain",
    "faithfulness",
    "find_cam_layer",
    "hook_count",
    "method_availability",
    "normalize_map",
    "overlay",
    "png_data_uri",
    "predict_proba",
    "predicted_targets",
    "rank_correlation",
    "render_report",
    "resize_map",
    "sanity_check",
    "write_report",
]
