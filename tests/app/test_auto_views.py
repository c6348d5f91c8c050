"""``ui.auto_views``'s pure helpers: the leaderboard figure, table, skipped list and budget line from the rows."""

from __future__ import annotations

import math

import pytest

from ui.auto_views import (
    budget_text,
    latest_board,
    leaderboard_figure,
    leaderboard_frame,
    not_scored,
    ordered,
)


def done(name: str, mean: float, low: float, high: float, winner: bool = False, seconds: float = 3.0) -> dict:
    return {"name": name, "label": f"label of {name}", "kind": "probe", "status": "done", "reason": "",
            "estimated_seconds": 4.0, "mean": mean, "std": 0.01, "ci_low": low, "ci_high": high,
            "fold_scores": [mean] * 3, "seconds": seconds, "settings": {}, "metric": "accuracy", "winner": winner}


ROWS = [
    done("pixels", 0.90, 0.85, 0.95),
    {"name": "probe:a", "label": "<b>probe</b> on a", "kind": "probe", "status": "running", "reason": "",
     "estimated_seconds": 12.0},
    done("head:a", 0.96, 0.94, 0.98, winner=True, seconds=20.0),
    {"name": "probe:b", "label": "probe on b", "kind": "probe", "status": "planned", "reason": "",
     "estimated_seconds": 75.0},
    {"name": "scratch:a", "label": "a from scratch", "kind": "scratch", "status": "skipped",
     "reason": "needs about 9 min; 2 min of the budget left", "estimated_seconds": 540.0},
    {"name": "fine-tune-1:a", "label": "fine-tune last 1 group of a", "kind": "fine-tune", "status": "failed",
     "reason": "out of memory", "estimated_seconds": 30.0},
]


def test_rows_are_ordered_done_best_first_then_running_planned_skipped_failed():
    assert [r["name"] for r in ordered(ROWS)] == ["head:a", "pixels", "probe:a", "probe:b", "scratch:a",
                                                  "fine-tune-1:a"]


def test_the_figure_has_bars_with_asymmetric_intervals_and_words_for_the_rest():
    fig = leaderboard_figure(ROWS)
    bars, todo = fig.data
    assert bars.type == "bar" and bars.orientation == "h"
    assert list(bars.y) == ["label of head:a", "label of pixels"]
    assert list(bars.x) == [0.96, 0.90]
    assert [round(v, 6) for v in bars.error_x.array] == [0.02, 0.05]  # up to ci_high
    assert [round(v, 6) for v in bars.error_x.arrayminus] == [0.02, 0.05]  # down to ci_low
    assert bars.marker.color[0] != bars.marker.color[1]  # the winner stands out
    assert bars.text[0] == "96.0% · winner" and bars.text[1] == "90.0%"
    assert todo.mode == "text" and list(todo.text) == ["running… · about 12 s", "planned · about 1 min 15 s"]
    assert list(todo.y) == ["&lt;b&gt;probe&lt;/b&gt; on a", "probe on b"]  # names never become HTML
    shown = list(fig.layout.yaxis.categoryarray)
    assert "a from scratch" not in shown and "fine-tune last 1 group of a" not in shown  # listed below instead
    assert fig.layout.yaxis.autorange == "reversed" and tuple(fig.layout.xaxis.range) == (0, 1.0)


def test_the_figure_of_a_board_with_nothing_done_yet_or_no_interval():
    fig = leaderboard_figure([r for r in ROWS if r["status"] != "done"])
    assert [t.type for t in fig.data] == ["scatter"]
    single = done("pixels", 0.8, math.nan, math.nan)
    single["ci_low"] = single["ci_high"] = None  # one fold: no interval
    (bars,) = leaderboard_figure([single]).data
    assert list(bars.error_x.array) == [0.0] and list(bars.error_x.arrayminus) == [0.0]


def test_the_table_has_one_row_per_candidate_with_status_interval_and_reason():
    frame = leaderboard_frame(ROWS)
    assert list(frame.columns) == ["candidate", "name", "status", "CV mean", "95% CI", "seconds",
                                   "estimated seconds", "reason"]
    assert list(frame["name"]) == [r["name"] for r in ordered(ROWS)]
    top = frame.iloc[0]
    assert top["status"] == "done · winner" and top["CV mean"] == 0.96 and top["95% CI"] == "94.0% – 98.0%"
    assert top["seconds"] == 20.0
    skipped = frame[frame["name"] == "scratch:a"].iloc[0]
    assert skipped["status"] == "skipped" and math.isnan(skipped["CV mean"]) and skipped["95% CI"] == ""
    assert skipped["reason"] == "needs about 9 min; 2 min of the budget left"


def test_skipped_and_failed_candidates_are_listed_with_their_reasons():
    assert not_scored(ROWS) == ["a from scratch — skipped: needs about 9 min; 2 min of the budget left",
                                "fine-tune last 1 group of a — failed: out of memory"]


@pytest.mark.parametrize("board, wall, expected", [
    ({"elapsed": 65.0, "budget": 300.0, "eta": 130.0, "message": "scoring x"}, None,
     "1 min 5 s of the 5 min 0 s budget · about 2 min 10 s left · scoring x"),
    ({"elapsed": 5.0, "budget": 60.0, "eta": None, "message": ""}, 9.4, "9 s of the 1 min 0 s budget"),
])
def test_the_budget_line(board, wall, expected):
    assert budget_text(board, wall) == expected


def test_the_latest_leaderboard_event_is_the_last_one():
    events = [{"kind": "message", "text": "a"}, {"kind": "leaderboard", "rows": [1]}, {"kind": "progress"},
              {"kind": "leaderboard", "rows": [2]}, {"kind": "epoch"}]
    assert latest_board(events)["rows"] == [2]
    assert latest_board(events[:1]) is None
