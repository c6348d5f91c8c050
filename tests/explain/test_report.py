"""The review report: one self-contained HTML file with every section."""

from __future__ import annotations

import base64
import re

import dataclasses

import numpy as np

from tlcore.explain import SECTIONS, GalleryItem, ReportData, SanityResult, SanityStep, render_report, write_report
from tlcore.explain.report_auto import AUTO_SECTION, auto_summary

from tests.explain.test_report_auto import auto_block


def _data() -> ReportData:
    img = np.zeros((24, 24, 3), dtype=np.uint8)
    img[:, :12] = 255
    item = GalleryItem(img, "cat", "dog <b>", 0.8765, {"Grad-CAM": img, "Saliency": img[::-1]}, caption="a&b.png")
    sanity = SanityResult("gradcam", (SanityStep("head", 1, 0.42, (0.42,)),), 0.5, True, (True,), "Grad-CAM passes.")
    return ReportData(
        title="Review of run r1",
        summary={"run": "r1", "backbone": "efficientnet_lite0"},
        dataset={"name": "digits", "images": 1797, "images per class": {"cat": 3, "dog": 4}},
        metrics={"accuracy": 0.91234, "macro F1": 0.9},
        classes=("cat", "dog <b>"),
        confusion=np.array([[3, 1], [0, 4]]),
        correct=(item,),
        wrong=(item,),
        sanity=(sanity,),
        generated="2025-01-01 12:00",
    )


def test_every_section_is_there_in_order():
    html = render_report(_data())
    positions = [html.index(f"<section id='{sid}'>") for sid, _ in SECTIONS]
    assert positions == sorted(positions)
    for _, title in SECTIONS:
        assert title in html
    assert "0.912" in html and "1797" in html and "Grad-CAM passes." in html and "88%" in html
    assert "<h3>Grad-CAM: <span class='ok'>passed</span></h3>" in html


def test_report_is_self_contained_and_escaped():
    html = render_report(_data())
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"(src|href)\s*=\s*['\"](https?:)?//", html)
    sources = re.findall(r"src='([^']+)'", html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "dog <b>" not in html and "dog &lt;b&gt;" in html and "a&amp;b.png" in html


def test_confusion_matrix_cells_and_empty_galleries(tmp_path):
    data = _data()
    html = render_report(data)
    cells = re.findall(r"<td style='background:rgba\([^)]*\);color:[^']*'>(\d+)</td>", html)
    assert cells == ["3", "1", "0", "4"]
    empty = ReportData("t", {}, {}, {}, ("a",), np.zeros((0, 0)))
    text = render_report(empty)
    assert "No wrong predictions" in text and "No sanity check was run" in text
    path = write_report(tmp_path / "r.html", data)
    assert path.read_text(encoding="utf-8") == html


def test_auto_section_only_for_an_auto_run():
    plain = render_report(_data())
    assert f"<section id='{AUTO_SECTION[0]}'>" not in plain and AUTO_SECTION[1] not in plain and "<svg" not in plain
    html = render_report(dataclasses.replace(_data(), auto=auto_summary(auto_block())))
    order = [sid for sid, _ in SECTIONS]
    order.insert(order.index("dataset") + 1, AUTO_SECTION[0])
    positions = [html.index(f"<section id='{sid}'>") for sid in order]
    assert positions == sorted(positions)  # after the dataset, before the test metrics
    assert f"<a href='#{AUTO_SECTION[0]}'>{AUTO_SECTION[1]}</a>" in html
    section = html.split(f"<section id='{AUTO_SECTION[0]}'>")[1].split("</section>")[0]
    assert "<svg" in section and "class='win'" in section and "so the cheaper one was kept" in section
    assert "<script" not in html and "&lt;script&gt;" in section
    assert not re.search(r"(src|href)\s*=\s*['\"](https?:)?//", html)  # the SVG namespace is no link
