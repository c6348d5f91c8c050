"""The review report's "How the recipe was chosen" section, from a hand-written ``auto`` block of a run record."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tlcore.explain.report_auto import AUTO_SECTION, auto_summary, axis_start, bar_chart_svg, ranked, render_auto

EVIL = "<script>alert('x')</script>"


def auto_block() -> dict:
    """An ``auto`` block shaped as :meth:`tlcore.auto.runner.AutoResult.record` writes it (the fields the report
    reads), with a cheaper winner than the best, a skipped and a failed candidate, and markup in the texts."""
    def done(name, label, mean, low, high, seconds, winner=False):
        return {"name": name, "label": label, "kind": name.split(":")[0], "status": "done", "reason": "",
                "mean": mean, "std": 0.01, "ci_low": low, "ci_high": high, "seconds": seconds,
                "estimated_seconds": seconds * 0.9, "winner": winner, "fold_scores": [mean] * 5}

    return {
        "settings": {"budget": 300.0, "folds": 5},
        "metric": "accuracy",
        "leaderboard": [
            done("pixels", "raw pixels (logistic regression)", 0.912, 0.89, 0.934, 12.0),
            done("probe:efficientnet_lite0", "linear probe on efficientnet_lite0", 0.951, 0.94, 0.962, 30.5,
                 winner=True),
            done("fine-tune-1:efficientnet_lite0", f"fine-tune last 1 group {EVIL}", 0.957, 0.93, 0.984, 140.2),
            {"name": "scratch:efficientnet_lite0", "label": "efficientnet_lite0 from scratch", "kind": "scratch",
             "status": "skipped", "reason": "the budget ran out: about 900 s needed, 80 s left", "mean": None,
             "std": None, "ci_low": None, "ci_high": None, "estimated_seconds": 900.0, "winner": False},
            {"name": "head:efficientnet_lite0", "label": "MLP head on efficientnet_lite0", "kind": "head",
             "status": "failed", "reason": f"out of memory {EVIL}", "estimated_seconds": 40.0},
        ],
        "winner": "probe:efficientnet_lite0",
        "best": "fine-tune-1:efficientnet_lite0",
        "reason": f"linear probe scored 95.1% ... so the cheaper one was kept {EVIL}",
        "folds": [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]],
        "selection_images": 1437,
        "refit": {"images": 1437, "epochs": 0, "seconds": 4.2},
        "lr_curves": {},
        "seconds": 287.4,
    }


def test_summary_reads_the_block():
    s = auto_summary(auto_block())
    assert s.folds == 5 and s.selection_images == 1437 and s.budget == 300.0 and s.seconds == 287.4
    by_name = {r.name: r for r in s.rows}
    assert by_name["probe:efficientnet_lite0"].winner and not by_name["probe:efficientnet_lite0"].best
    assert by_name["fine-tune-1:efficientnet_lite0"].best and not by_name["pixels"].winner
    skipped = by_name["scratch:efficientnet_lite0"]
    assert skipped.mean is None and skipped.seconds == 900.0 and skipped.estimated
    assert not by_name["pixels"].estimated and by_name["pixels"].seconds == 12.0
    assert [r.name for r in ranked(s.rows)] == ["fine-tune-1:efficientnet_lite0", "probe:efficientnet_lite0",
                                               "pixels", "scratch:efficientnet_lite0", "head:efficientnet_lite0"]


def test_section_html_has_the_reason_table_and_chart_escaped():
    text = render_auto(auto_summary(auto_block()))
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "so the cheaper one was kept" in text and "5-fold cross-validation" in text and "1,437" in text
    rows = re.findall(r"<tr[^>]*>.*?</tr>", text.split("<table class='leaderboard'>")[1])
    assert len(rows) == 1 + 5  # header + one per candidate
    winner = [r for r in rows if "class='win'" in r]
    assert len(winner) == 1 and "linear probe on efficientnet_lite0" in winner[0] and "95.1%" in winner[0]
    assert "94.0% – 96.2%" in winner[0] and ">30.5<" in winner[0]  # CI and measured seconds
    assert "highest mean" in rows[1] and "fine-tune last 1 group" in rows[1]
    assert "the budget ran out" in text and "~900 (est.)" in text and "out of memory" in text
    assert "not reached" not in text and ">skipped<" in text and ">failed<" in text


def test_chart_is_valid_svg_with_one_bar_and_whisker_per_scored_candidate():
    s = auto_summary(auto_block())
    svg = bar_chart_svg(ranked(s.rows))
    root = ET.fromstring(svg)  # well-formed XML, escaped labels included
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.iter(f"{ns}rect")]
    whiskers = [p for p in root.iter(f"{ns}path")]
    assert len(bars) == 3 and len(whiskers) == 3
    widths = [float(b.get("width")) for b in bars]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0  # best first; all above the axis start
    assert [b.get("fill") for b in bars] == ["#2166ac", "#1a7f37", "#9bb8d6"]  # best, winner, other
    assert "<script" not in svg and "starts at 80%" in svg
    assert bar_chart_svg([]) == "" and "<svg" not in render_auto(auto_summary({"leaderboard": []}))


def test_axis_starts_at_zero_unless_every_score_is_high():
    s = auto_summary(auto_block())
    assert axis_start(s.rows) == 0.8
    low = auto_summary({"leaderboard": [{"name": "pixels", "status": "done", "mean": 0.4, "ci_low": 0.3,
                                         "ci_high": 0.5}]})
    assert axis_start(low.rows) == 0.0
    perfect = auto_summary({"leaderboard": [{"name": "pixels", "status": "done", "mean": 1.0, "ci_low": 1.0,
                                             "ci_high": 1.0}]})
    assert axis_start(perfect.rows) == 0.9


def test_interval_past_a_perfect_score_is_cut_at_100_percent():
    block = {"leaderboard": [{"name": "pixels", "label": "raw pixels", "status": "done", "mean": 0.83,
                              "ci_low": 0.658, "ci_high": 1.001, "seconds": 0.4}], "seconds": 3.3}
    text = render_auto(auto_summary(block))
    assert "65.8% – 100.0%" in text and "100.1%" not in text and "took 3.3 s" in text


def test_damaged_block_renders_what_it_can():
    block = {"leaderboard": ["junk", {"name": 3, "status": "done", "mean": "high", "ci_low": float("nan"),
                                      "seconds": True}], "reason": 7, "folds": "x", "refit": []}
    s = auto_summary(block)
    assert len(s.rows) == 1 and s.rows[0].mean is None and s.rows[0].seconds is None and s.rows[0].label == "?"
    text = render_auto(s)
    assert "Why this recipe" not in text and "<svg" not in text and "leaderboard" in text
    assert "No leaderboard recorded" in render_auto(auto_summary("not a dict"))
    assert AUTO_SECTION == ("auto", "How the recipe was chosen")
