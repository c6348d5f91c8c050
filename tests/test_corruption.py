"""Property-style: seeded random corruptions of a workspace (truncations, bit flips, wrong JSON types, deleted keys,
files replaced by folders and folders by files, garbage) never give a traceback in the CLI or the app; the damaged
item is named, and the intact ones keep working (issue 20, "the workspace read back").

One workspace is built once (two datasets, two trained runs of the tiny test backbone, a cross-validation record, the
run index); each case corrupts one file or folder of a fresh copy, then runs ``runs``, ``show``, ``predict``,
``evaluate`` and ``datasets`` in-process, and (for a share of the cases) renders every page (Home, Data, Train, Predict, Explain, Runs, Cross-validation)
with AppTest.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.synthetic import write_class_folder
from tlcore.cli.main import main
from tlcore.data import import_folder, load_dataset
from tlcore.errors import TlcoreError
from tlcore.runs.records import get_run, list_runs, repair_index, write_run
from tlcore.workspace import Workspace

CASES = int(os.environ.get("TLCORE_CORRUPTION_CASES", "36"))  # seeded corruptions for the CLI (more: explore)
APP_EVERY = int(os.environ.get("TLCORE_CORRUPTION_APP_EVERY", "3"))  # every third case also renders the app pages
WRONG_VALUES = (None, "yesterday", 7, -1, 1e308, [], {}, True, [1, "x"], {"a": []})


@dataclass(frozen=True)
class Base:
    """The intact workspace and what is in it."""

    root: Path
    trained: tuple[str, ...]  # training runs (predict, evaluate)
    cv: str  # a cross-validation record
    datasets: tuple[str, ...]  # datasets[0] is the one the training runs were made on
    image: Path  # an image to predict


@pytest.fixture(scope="module")
def base(saved_run, tmp_path_factory) -> Base:
    src_ws, dataset, run_id = saved_run
    root = tmp_path_factory.mktemp("corruption-base") / "ws"
    shutil.copytree(src_ws.root, root, symlinks=True)
    ws = Workspace(root)
    copy_id = "20200101-000000-c0ffee"  # a second training run: the first one's files under another id
    shutil.copytree(ws.runs / run_id, ws.runs / copy_id)
    record = json.loads((ws.runs / copy_id / "run.json").read_text())
    record.update(id=copy_id, created=record["created"] - 60, label="the copy")
    (ws.runs / copy_id / "run.json").write_text(json.dumps(record))
    cv = write_run(ws, {"id": "20200101-000000-00c0de", "created": time.time() - 30, "kind": "cv", "label": "cv",
                        "dataset_id": dataset.id, "dataset_name": dataset.name, "backbone": record["backbone"],
                        "strategy": "feature-extraction", "test_metrics": {"accuracy": 0.5, "n": 8},
                        "timings": {"total": 1.0}, "k": 2, "folds": [[0, 1], [2, 3]]})
    other, _ = import_folder(ws, write_class_folder(root.parent / "other", classes=("red", "blue"), n_per_class=3,
                                                    size=16), name="other")
    repair_index(ws)
    image = root.parent / "new.png"
    shutil.copyfile(ws.image_path(dataset.hashes[0]), image)
    return Base(root, (run_id, copy_id), cv, (dataset.id, other.id), image)


# ---------------------------------------------------------------------------------------------------------------
# Corruptions


def _targets(b: Base) -> list[tuple[str, str, str]]:
    """(path relative to the workspace, kind of owner, owner id)."""
    out = [("index.sqlite", "index", "")]
    for r in b.trained:
        out += [(f"runs/{r}/{name}", "run", r) for name in ("run.json", "model.safetensors", "test_probs.npy", "")]
    out += [(f"runs/{b.cv}/run.json", "run", b.cv), (f"runs/{b.cv}", "run", b.cv)]
    for d in b.datasets:
        out += [(f"datasets/{d}/{name}", "dataset", d) for name in ("manifest.json", "report.json", "")]
    return [(p.rstrip("/"), kind, owner) for p, kind, owner in out]


def _json_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:5]):
            yield from _json_paths(v, (*prefix, i))


def _json_mutation(path: Path, rng: random.Random, delete: bool) -> str:
    data = json.loads(path.read_text())
    paths = [p for p in _json_paths(data) if p]
    where = rng.choice(paths)
    parent = data
    for step in where[:-1]:
        parent = parent[step]
    if delete:
        del parent[where[-1]]
    else:
        parent[where[-1]] = rng.choice(WRONG_VALUES)
    path.write_text(json.dumps(data))
    return f"{'deleted' if delete else 'wrong type at'} {'/'.join(map(str, where))}"


def corrupt(root: Path, target: str, rng: random.Random) -> str:
    """Apply one random corruption to ``root/target``; return what was done."""
    path = root / target
    if path.is_dir():
        shutil.rmtree(path)
        path.write_bytes(rng.randbytes(rng.randrange(0, 64)))
        return "folder replaced by a file"
    data = path.read_bytes()
    ops = ["truncate", "flip", "folder", "garbage"] + (["json-type", "json-delete"] * 2 if path.suffix == ".json"
                                                       else [])
    op = rng.choice(ops)
    if op == "truncate":
        path.write_bytes(data[:rng.randrange(0, max(len(data), 1))])
        return "truncated"
    if op == "flip":
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        return "bits flipped"
    if op == "folder":
        path.unlink()
        path.mkdir()
        (path / "inside").write_bytes(b"x")
        return "file replaced by a folder"
    if op == "garbage":
        path.write_bytes(rng.randbytes(rng.randrange(1, 200)))
        return "garbage"
    return _json_mutation(path, rng, delete=op == "json-delete")


# ---------------------------------------------------------------------------------------------------------------
# The CLI


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m tlcore ARGS`` in-process: any exception escaping ``main`` fails the test."""
    code = main([*args])
    out, err = capsys.readouterr()
    assert code in (0, 1), (args, code, err)
    assert "Traceback" not in out + err
    if code == 1:
        assert err.startswith("error: ") or '"error"' in out, (args, err)
    return code, out, err


def outcomes(capsys, b: Base, root: Path) -> dict[tuple[str, ...], tuple[int, str, str]]:
    w = ("--workspace", str(root))
    calls = [("runs",), ("runs", "--json"), ("datasets",), ("datasets", "--json")]
    calls += [("show", "--run", r) for r in (*b.trained, b.cv)]
    calls += [("predict", "--run", r, str(b.image)) for r in b.trained]
    calls += [("evaluate", "--run", r, "--quiet") for r in b.trained]
    return {c: cli(capsys, *c[:1], *w, *c[1:]) for c in calls}


def _depends(call: tuple[str, ...], kind: str, owner: str, b: Base) -> bool:
    """Whether ``call`` reads the corrupted item."""
    if kind == "index":
        return False
    if call[0] in ("runs", "datasets"):
        return call[0] == kind + "s"
    run = call[2]
    if kind == "run":
        return run == owner
    return owner == b.datasets[0] and call[0] in ("evaluate", "predict")  # predict checks the split against it


@pytest.mark.slow  # dozens of CLI runs and model loads, and AppTest renders
def test_random_corruptions_never_crash_and_are_named(base, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TLCORE_THREADS", "1")
    clean = outcomes(capsys, base, base.root)
    assert {c: code for c, (code, _, _) in clean.items() if code} == {}
    targets = _targets(base)
    app_cases = []
    for seed in range(CASES):
        rng = random.Random(seed)
        target, kind, owner = targets[seed % len(targets)] if seed < len(targets) else rng.choice(targets)
        root = tmp_path / f"case-{seed}" / "ws"
        shutil.copytree(base.root, root, symlinks=True)
        what = f"seed {seed}: {target} {corrupt(root, target, rng)}"
        got = outcomes(capsys, base, root)
        for call, (code, out, err) in got.items():
            if not _depends(call, kind, owner, base):
                assert code == clean[call][0], (what, call, err)
            assert "nan%" not in out, (what, call, out)
            if code == 1 and call[0] in ("show", "predict"):
                assert call[2] in err, (what, call, err)  # the run is named
            if code == 1 and call[0] == "evaluate":
                assert call[2] in err or "dataset" in err, (what, call, err)
        listed = {row["id"]: row for row in json.loads(got[("runs", "--json")][1])["runs"]}
        assert set(listed) == {*base.trained, base.cv}, what  # every run is listed, damaged or not
        for run_id, row in listed.items():
            shown = got[("show", "--run", run_id)][0]
            assert (shown == 1) == bool(row["damaged"]), (what, run_id, row)
            if row["damaged"]:
                assert run_id in row["damaged"] and "damaged" in got[("runs",)][2], what
        listing = json.loads(got[("datasets", "--json")][1])
        ws = Workspace(root)
        for dataset_id in base.datasets:
            try:
                load_dataset(ws, dataset_id)
            except TlcoreError:
                assert dataset_id not in [d["dataset_id"] for d in listing["datasets"]], what
                assert any(d["dataset_id"] == dataset_id and dataset_id in d["reason"]
                           for d in listing["damaged"]), what
                assert f"damaged: dataset {dataset_id}" in got[("datasets",)][2], what
            else:
                assert dataset_id in [d["dataset_id"] for d in listing["datasets"]], what
        if seed % APP_EVERY == 0:
            app_cases.append((what, root))
    _render_pages(app_cases, base, monkeypatch)


# ---------------------------------------------------------------------------------------------------------------
# The app


def _render_pages(cases: list[tuple[str, Path]], b: Base, monkeypatch) -> None:
    import streamlit as st

    from tests.app.conftest import markdowns, open_page
    from ui.jobs import _manager_for

    for what, root in cases:
        monkeypatch.setenv("TLCORE_WORKSPACE", str(root))
        st.cache_resource.clear()
        st.cache_data.clear()
        try:
            ws = Workspace(root)
            damaged = [r for r in list_runs(ws) if r.damaged]
            at = open_page("pages/1_Home.py")
            assert not at.exception, (what, "Home", at.exception)
            at = open_page("pages/6_Runs.py")
            assert not at.exception, (what, "Runs", at.exception)
            warnings = " ".join(markdowns(at)).replace("\\", "")  # markdown-escaped: "20200101\-000000"
            assert all(r.id in warnings for r in damaged), (what, warnings)
            generation = at.session_state["tl_runs_table_generation"]
            rows = list(range(len(at.dataframe[0].value)))
            at.session_state[f"runs-table-{generation}"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
            at.run()
            assert not at.exception, (what, "Runs with every row selected", at.exception)
            at = open_page("pages/4_Predict.py")
            assert not at.exception, (what, "Predict", at.exception)
            if at.radio:
                at.radio(key="predict-source").set_value("Images from the run's test split").run()
                at.button(key="predict-go").click().run()
                assert not at.exception, (what, "Predict from the test split", at.exception)
            at = open_page("pages/5_Explain.py")
            assert not at.exception, (what, "Explain", at.exception)
            for dataset_id in (None, *b.datasets):  # every other page, with each dataset current (damaged ones too)
                session = {} if dataset_id is None else {"tl_dataset_id": dataset_id}
                for page in ("pages/2_Data.py", "pages/3_Train.py", "pages/7_Cross_validation.py"):
                    at = open_page(page, **session)
                    assert not at.exception, (what, page, dataset_id, at.exception)
        finally:
            _manager_for(str(Workspace(root).root)).close()
            st.cache_resource.clear()


def test_a_run_listed_as_damaged_is_named_by_every_command(saved_run, tmp_path, capsys, monkeypatch):
    """The fast lane's share: one run folder with ``[]`` in its run.json (the case the issue found) in a copy of
    the saved run's workspace."""
    monkeypatch.setenv("TLCORE_THREADS", "1")
    src_ws, dataset, run_id = saved_run
    root = tmp_path / "ws"
    shutil.copytree(src_ws.root, root, symlinks=True)
    (root / "runs" / "20200101-000000-0bad00").mkdir()
    (root / "runs" / "20200101-000000-0bad00" / "run.json").write_text("[]")
    w = ("--workspace", str(root))
    code, out, err = cli(capsys, "runs", *w)
    assert code == 0 and run_id in out and "20200101-000000-0bad00" in out
    assert "damaged: run 20200101-000000-0bad00 is damaged: run.json holds a JSON array, not an object" in err
    code, _, err = cli(capsys, "show", *w, "--run", "20200101-000000-0bad00")
    assert code == 1 and "run 20200101-000000-0bad00 is damaged" in err
    assert cli(capsys, "show", *w, "--run", run_id)[0] == 0
    assert get_run(Workspace(root), run_id)["id"] == run_id
