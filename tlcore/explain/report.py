"""The review report: one self-contained HTML file (images inlined as base64 PNG, no external CSS or JS).

Inputs are plain values (dicts, arrays, the explain result dataclasses), so the report does not depend on
the run store; :func:`render_report` returns the HTML text and :func:`write_report` saves it atomically.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from PIL import Image

from tlcore.atomic import atomic_write_text
from tlcore.explain.methods import METHODS
from tlcore.explain.overlay import colorbar
from tlcore.explain.report_auto import AUTO_CSS, AUTO_SECTION, AutoSummary, render_auto

if TYPE_CHECKING:
    from tlcore.explain.checks.sanity import SanityResult

# (element id, heading) of every section, in order; tests check that each is present. An auto run's report has one
# more, AUTO_SECTION ("How the recipe was chosen", tlcore.explain.report_auto), after the dataset.
SECTIONS = (
    ("summary", "Run"),
    ("dataset", "Dataset"),
    ("metrics", "Test metrics"),
    ("confusion", "Confusion matrix"),
    ("correct", "Correct predictions"),
    ("wrong", "Wrong predictions"),
    ("sanity", "Can these maps be trusted? Sanity check"),
    ("reading", "How to read the maps"),
)


@dataclass(frozen=True)
class GalleryItem:
    """One test image with its prediction and the overlays of each method."""

    image: np.ndarray  # (H, W, 3) uint8, as the model saw it
    true_label: str
    predicted: str
    probability: float  # of the predicted class
    overlays: Mapping[str, np.ndarray]  # method label -> (H, W, 3) uint8 overlay
    caption: str = ""  # e.g. the file name


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows."""

    title: str
    summary: Mapping[str, Any]  # run facts: id, backbone, strategy, training time, ...
    dataset: Mapping[str, Any]  # name, image count, images per class (a dict), split sizes (a dict), ...
    metrics: Mapping[str, float]  # accuracy, macro F1, ... on the test split
    classes: Sequence[str]
    confusion: np.ndarray  # (C, C) counts, rows = true class, columns = predicted
    correct: Sequence[GalleryItem] = ()
    wrong: Sequence[GalleryItem] = ()
    sanity: Sequence[SanityResult] = ()
    generated: str = ""  # when the report was made, as text
    notes: Sequence[str] = field(default_factory=tuple)  # extra lines for the run section
    auto: AutoSummary | None = None  # an auto run's selection: reason, leaderboard (None: not an auto run)


def png_data_uri(image: np.ndarray) -> str:
    """An (H, W, 3) or (H, W) uint8 array as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render_report(data: ReportData) -> str:
    """The report as one HTML document."""
    body = [
        f"<h1>{_e(data.title)}</h1>",
        f"<p class='muted'>Generated {_e(data.generated)} by the transfer-learning workbench.</p>"
        if data.generated
        else "",
        _toc(data.auto is not None),
        _section("summary", _facts(data.summary) + "".join(f"<p>{_e(n)}</p>" for n in data.notes)),
        _section("dataset", _facts(data.dataset)),
        _section(AUTO_SECTION[0], render_auto(data.auto)) if data.auto is not None else "",
        _section("metrics", _facts({k: _number(v) for k, v in data.metrics.items()})),
        _section("confusion", _confusion(np.asarray(data.confusion), list(data.classes))),
        _section("correct", _gallery(data.correct, "No correct predictions to show.")),
        _section("wrong", _gallery(data.wrong, "No wrong predictions on the test split.")),
        _section("sanity", _sanity(data.sanity)),
        _section("reading", _reading()),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(data.title)}</title><style>{_CSS}{AUTO_CSS if data.auto is not None else ''}</style></head><body>"
        + "\n".join(b for b in body if b)
        + "</body></html>\n"
    )


def write_report(path: str | Path, data: ReportData) -> Path:
    """Write the report to ``path`` (atomically) and return the path."""
    return atomic_write_text(path, render_report(data))


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.muted{color:#666}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cm td{text-align:center;min-width:2.5em}.item{margin:1em 0;padding:.6em;border:1px solid #e3e3e3;border-radius:6px}
.row{display:flex;flex-wrap:wrap;gap:.6em}figure{margin:0;text-align:center}figure img{width:160px;height:auto;
image-rendering:auto;border-radius:3px}figcaption{font-size:.85em;color:#444}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}nav a{margin-right:1em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _sections(auto: bool) -> tuple[tuple[str, str], ...]:
    """The report's sections in order: :data:`SECTIONS`, with :data:`AUTO_SECTION` after the dataset for an auto run."""
    if not auto:
        return SECTIONS
    at = [sid for sid, _ in SECTIONS].index("dataset") + 1
    return SECTIONS[:at] + (AUTO_SECTION,) + SECTIONS[at:]


def _toc(auto: bool = False) -> str:
    return "<nav>" + "".join(f"<a href='#{sid}'>{_e(title)}</a>" for sid, title in _sections(auto)) + "</nav>"


def _section(sid: str, inner: str) -> str:
    title = dict(_sections(True))[sid]
    return f"<section id='{sid}'><h2>{_e(title)}</h2>{inner}</section>"


def _facts(facts: Mapping[str, Any]) -> str:
    if not facts:
        return "<p class='muted'>Nothing recorded.</p>"
    rows = []
    for key, value in facts.items():
        cell = _facts(value) if isinstance(value, Mapping) else _e(_number(value))
        rows.append(f"<tr><th>{_e(key)}</th><td>{cell}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _confusion(cm: np.ndarray, classes: list[str]) -> str:
    if cm.size == 0 or cm.shape != (len(classes), len(classes)):
        return "<p class='muted'>No confusion matrix recorded.</p>"
    totals = cm.sum(axis=1, keepdims=True).clip(min=1)
    share = cm / totals
    head = "<tr><th>true \\ predicted</th>" + "".join(f"<th>{_e(c)}</th>" for c in classes) + "</tr>"
    rows = []
    for i, name in enumerate(classes):
        cells = []
        for j in range(len(classes)):
            alpha = float(share[i, j])
            colour = "33,102,172" if i == j else "198,40,40"
            text = "#fff" if alpha > 0.55 else "#222"
            cells.append(f"<td style='background:rgba({colour},{alpha:.2f});color:{text}'>{int(cm[i, j])}</td>")
        rows.append(f"<tr><th>{_e(name)}</th>{''.join(cells)}</tr>")
    note = "<p class='muted'>Rows: true class; columns: predicted class. Shading: share of the row.</p>"
    return f"<table class='cm'>{head}{''.join(rows)}</table>{note}"


def _gallery(items: Sequence[GalleryItem], empty: str) -> str:
    if not items:
        return f"<p class='muted'>{_e(empty)}</p>"
    blocks = []
    for item in items:
        head = (
            f"<p><b>true:</b> {_e(item.true_label)} &nbsp; <b>predicted:</b> {_e(item.predicted)} "
            f"({item.probability:.0%})"
            + (f" &nbsp; <span class='muted'>{_e(item.caption)}</span>" if item.caption else "")
            + "</p>"
        )
        figures = [_figure(item.image, "image")] + [_figure(img, label) for label, img in item.overlays.items()]
        blocks.append(f"<div class='item'>{head}<div class='row'>{''.join(figures)}</div></div>")
    legend = (
        f"<p class='muted'>Colour scale (low → high attribution): "
        f"<img alt='colour scale' src='{png_data_uri(colorbar('jet', 200, 10))}'></p>"
    )
    return legend + "".join(blocks)


def _figure(image: np.ndarray, caption: str) -> str:
    return (
        f"<figure><img alt='{_e(caption)}' src='{png_data_uri(image)}'>"
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _sanity(results: Sequence[SanityResult]) -> str:
    intro = (
        "<p>Each method's maps were recomputed after randomising the model's weights layer by layer, from the "
        "output layer down (Adebayo et al., 2018). A trustworthy method's maps change when the model is "
        "destroyed; the numbers are rank correlations with the original maps (1 = unchanged, 0 = unrelated).</p>"
    )
    if not results:
        return intro + "<p class='muted'>No sanity check was run.</p>"
    parts = [intro]
    for r in results:
        badge = "<span class='ok'>passed</span>" if r.passed else "<span class='bad'>flagged</span>"
        rows = "".join(
            f"<tr><td>{_e(s.label)}</td><td class='num'>{s.layers}</td><td class='num'>{s.correlation:.2f}</td></tr>"
            for s in r.steps
        )
        name = METHODS[r.method].label if r.method in METHODS else r.method
        parts.append(
            f"<h3>{_e(name)}: {badge}</h3><p>{_e(r.verdict)}</p>"
            "<table><tr><th>randomised down to</th><th>layers</th><th>rank correlation</th></tr>"
            f"{rows}</table>"
        )
    return "".join(parts)


def _reading() -> str:
    return (
        "<ul><li>Warm colours mark the pixels that pushed the model towards the predicted class; the image "
        "itself is blended underneath.</li>"
        "<li>Grad-CAM is coarse (the resolution of the backbone's last feature map); gradient methods are "
        "sharp but noisy.</li>"
        "<li>A map is a hint, not proof: trust methods that pass the sanity check, and compare several.</li>"
        "<li>On wrong predictions, look for background, borders or watermarks the model may have used.</li></ul>"
    )
