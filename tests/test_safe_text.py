"""Safe text (tlcore.safe_text): CSV cells a spreadsheet will not run, terminal output that cannot steer it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT
from tlcore.safe_text import csv_cell, csv_row, csv_text, terminal_json, terminal_text


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1", "-", "=", "-inf", "+nan"])
def test_a_cell_that_a_spreadsheet_would_run_gets_a_leading_quote(cell):
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["cat", "", " =1", "a=b", "1,2", "'=already", "x-y", "café"])
def test_ordinary_text_is_left_alone(cell):
    assert csv_cell(cell) == cell


@pytest.mark.parametrize("value", [-0.5, -3, 0, 2.5e-4, float("nan"), None, True, "-0.5", "+3", "-1e-4", ".5", "-7."])
def test_numbers_stay_numbers(value):
    out = csv_cell(value)
    assert out is value or out == value


def test_csv_text_of_row_dicts_neutralises_cells_and_column_names():
    text = csv_text([{"class": "=HYPERLINK(\"u\")", "f1": -0.5}, {"class": "dog", "@n": "+1", "f1": None}])
    assert list(csv.reader(io.StringIO(text))) == [
        ["class", "f1", "'@n"], ["'=HYPERLINK(\"u\")", "-0.5", ""], ["dog", "", "+1"]]
    assert text.endswith("\n") and "\r" not in text


def test_csv_text_of_a_dataframe_keeps_pandas_numbers_and_neutralises_text():
    frame = pd.DataFrame({"class": ["-cat", "dog"], "recall": [-0.25, 1.0], "kind": pd.Categorical(["@a", "b"])})
    rows = list(csv.reader(io.StringIO(csv_text(frame))))
    assert rows == [["class", "recall", "kind"], ["'-cat", "-0.25", "'@a"], ["dog", "1.0", "b"]]
    assert frame.loc[0, "class"] == "-cat"  # the caller's frame is not changed
    assert list(csv.reader(io.StringIO(csv_text(frame, columns=["recall"], index=True)))) == [
        ["", "recall"], ["0", "-0.25"], ["1", "1.0"]]


def test_csv_text_of_row_lists_with_and_without_a_header():
    assert csv_text([["=1", 2]], columns=["=a", "b"]) == "'=a,b\n'=1,2\n"
    assert csv_text([("x", "\t=y")]) == "x,'\t=y\n"
    assert csv_text([]) == "" and csv_row(["=a", 1]) == ["'=a", 1]


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
    ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # retitle the terminal (OSC)
    ("a\x9b2Jb", "a\\x9b2Jb"),  # C1 CSI
    ("\x00\x7f\r\b", "\\x00\\x7f\\x0d\\x08"),
    ("gnp.\u202eexe", "gnp.\\u202eexe"),  # right-to-left override
    ("a\u200bb\u2066c\ufeff", "a\\u200bb\\u2066c\\ufeff"),  # zero-width space, isolate, BOM
    ("x\U000e0041", "x\\U000e0041"),  # a tag character
    ("bad\udcff.png", "bad\\xff.png"),  # an undecodable byte of a file name (surrogateescape)
    ("line\nfake", "line\\x0afake"),
])
def test_terminal_text_escapes_what_steers_a_terminal(raw, shown):
    assert terminal_text(raw) == shown
    shown.encode("ascii")  # printable on any terminal


def test_terminal_text_leaves_ordinary_text_and_can_keep_newlines():
    assert terminal_text("Cats & dogs: café, 猫, 😀 50%\ttab") == "Cats & dogs: café, 猫, 😀 50%\\x09tab"
    assert terminal_text("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"
    assert terminal_text(3.5) == "3.5"


def test_terminal_json_keeps_the_value_and_escapes_what_json_dumps_leaves_raw():
    value = {"name": "a\x1b\x7f\x9b\u202e\udcff\U000e0041 ok é", "n": [1, 2]}
    raw = json.dumps(value, indent=2, ensure_ascii=False)
    safe = terminal_json(raw)
    assert json.loads(safe) == value
    assert not any(0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF or ord(c) in (0x202E, 0xE0041) for c in safe)
    assert "é" in safe and safe.count("\n") == raw.count("\n")


@pytest.mark.slow  # a subprocess
def test_the_module_imports_only_the_standard_library():
    code = "import sys, tlcore.safe_text; print(sorted(m for m in ('pandas', 'numpy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
