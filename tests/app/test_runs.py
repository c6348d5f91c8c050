"""Runs page: empty state, the table of runs, comparing selected runs, downloads and deleting a run."""

from __future__ import annotations

import json

from tests.app.conftest import markdowns, open_page

RUNS = "pages/6_Runs.py"


def select_rows(at, rows: list[int]):
    generation = at.session_state["tl_runs_table_generation"]
    at.session_state[f"runs-table-{generation}"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_without_runs_the_page_says_what_to_do(ws):
    at = open_page(RUNS)
    assert not at.exception
    assert any("No runs yet" in s for s in markdowns(at))


def test_runs_are_listed_compared_and_deleted(ws, dataset, run_id):
    at = open_page(RUNS, tl_run_id=run_id)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == [run_id] and table["strategy"][0] == "feature-extraction"
    assert any("No run selected" in s for s in markdowns(at))

    at = select_rows(at, [0])
    assert not at.exception
    curves = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(curves) == 2 and len(curves[0]["data"][0]["x"]) == 2  # val accuracy per epoch, 2 epochs
    assert at.dataframe[1].value["run"][0] == run_id
    assert [b.proto.label for b in at.get("download_button")] == ["Runs table (CSV)", "Download weights",
                                                                  "Download metadata"]
    assert at.button(key="runs-current").disabled  # it is already the current run

    at.button(key="runs-delete").click().run()
    assert not at.exception
    assert not (ws.runs / run_id).exists()
    assert at.session_state["tl_run_id"] is None
    assert any("No runs yet" in s for s in markdowns(at))
