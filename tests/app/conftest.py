"""AppTest fixtures: a fresh workspace per test, tiny test backbones switched on, synthetic data, a saved run."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.synthetic import COLOURS, write_class_folder
from tlcore.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
TINY = "timm/test_efficientnet"


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    """An empty workspace the app uses (through ``TLCORE_WORKSPACE``), with the tiny test backbones offered."""
    root = tmp_path / "ws"
    monkeypatch.setenv("TLCORE_WORKSPACE", str(root))
    workspace = Workspace(root)
    yield workspace
    from ui.jobs import _manager_for

    _manager_for(str(workspace.root)).close()  # stop workers this test's manager may still run
    st.cache_resource.clear()
    st.cache_data.clear()


def new_app(**session) -> AppTest:
    """The app with session-state keys preset (e.g. ``tl_dataset_id``), not yet run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in session.items():
        at.session_state[key] = value
    return at


def open_page(page: str, **session) -> AppTest:
    """Run the app, then switch to ``page`` (e.g. ``"pages/2_Data.py"``)."""
    at = new_app(**session)
    at.run()
    at.switch_page(page).run()
    return at


def run_until(at: AppTest, done, timeout: float = 240.0, interval: float = 0.5) -> AppTest:
    """Re-run the script (as the polling fragment would) until ``done(at)`` is true."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, "the page never reached the expected state"
        time.sleep(interval)
        at.run()
    return at


def texts(at: AppTest) -> list[str]:
    """Every plain ``st.text`` on the page and in the sidebar."""
    return [t.value for t in at.text]


def markdowns(at: AppTest) -> list[str]:
    """Every markdown-rendered string: markdown, captions (also under images), alerts."""
    out = [m.value for m in at.markdown] + [c.value for c in at.caption]
    out += [caption for image in at.image for caption in image.captions]
    return out + [a.value for kind in (at.info, at.warning, at.error, at.success) for a in kind]


# What GFM (remark-gfm, as Streamlit renders markdown) turns into a link in plain text: http(s)://, www. and
# name@host.tld, found in the text after backslash escapes are resolved (JavaScript's \w is ASCII-only).
_AUTOLINK = re.compile(r"https?://|www\.|[-.\w+]@[-\w]+\.", re.IGNORECASE | re.ASCII)
# A CSV cell a spreadsheet runs as a formula: starts with =, +, -, @, tab or CR and is not a plain number.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def autolinks(markdown: str) -> list[str]:
    """The link starts GFM would find in ``markdown`` (empty: nothing in it becomes a clickable link)."""
    return [m.group() for m in _AUTOLINK.finditer(re.sub(r"\\(.)", r"\1", markdown))]


def formula_cells(rows: list[list[str]]) -> list[str]:
    """The cells of a parsed CSV that a spreadsheet would run as formulas."""
    prefixes = ("=", "+", "-", "@", "\t", "\r")
    return [c for row in rows for c in row if c.startswith(prefixes) and not _NUMBER.fullmatch(c)]


@pytest.fixture
def served(monkeypatch) -> dict[str, bytes]:
    """Every file the app hands to Streamlit's media store, by URL: a download button's bytes are
    ``served[button.proto.url]`` (the store itself is gone once ``at.run()`` returns)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    files: dict[str, bytes] = {}
    original = MediaFileManager.add

    def add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        url = original(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)
        files[url] = path_or_data
        return url

    monkeypatch.setattr(MediaFileManager, "add", add)
    return files


@pytest.fixture
def released(monkeypatch) -> list[tuple[str, int]]:
    """(file id, bytes the server still holds afterwards) for every file dropped from the server's upload memory."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    calls = []
    original = MemoryUploadedFileManager.remove_file

    def remove_file(self, session_id, file_id):
        original(self, session_id, file_id)
        calls.append((file_id, self._total_bytes))

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", remove_file)
    return calls


def csv_downloads(at: AppTest, served: dict[str, bytes]) -> dict[str, list[list[str]]]:
    """Every CSV download button on the page: its label -> the file's parsed rows."""
    out = {}
    for button in at.get("download_button"):
        if button.proto.url.endswith(".csv"):
            data = served[button.proto.url]
            out[button.proto.label] = list(csv.reader(io.StringIO(data.decode("utf-8") if isinstance(data, bytes)
                                                                  else data)))
    return out


def png_bytes(colour: tuple[int, int, int], size: int = 24, seed: int = 0) -> bytes:
    """A small noisy PNG of one colour."""
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour, dtype=float) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG")
    return out.getvalue()


def class_zip(classes: dict[str, tuple[int, int, int]], n_per_class: int = 8, extra: dict[str, bytes] | None = None
              ) -> bytes:
    """A zip with a folder per class of noisy single-colour PNGs, plus ``extra`` members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for c, (name, colour) in enumerate(classes.items()):
            for i in range(n_per_class):
                zf.writestr(f"{name}/{i}.png", png_bytes(colour, seed=100 * c + i))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def dataset(ws, tmp_path):
    """Three colour classes, 10 images each, imported into the workspace."""
    from tlcore.data import import_folder

    root = write_class_folder(tmp_path / "imgs", n_per_class=10, size=24)
    ds, _ = import_folder(ws, root, name="colours")
    return ds


def tiny_train_config(strategy: str = "feature-extraction", epochs: int = 2):
    from tlcore.data.augment import NO_AUGMENT
    from tlcore.train.config import TrainConfig
    from tlcore.train.strategies import StrategyConfig

    return TrainConfig(backbone=TINY, strategy=StrategyConfig(name=strategy, head_lr=1e-2), epochs=epochs,
                       batch_size=8, patience=0, augment=NO_AUGMENT, image_size=32, val_fraction=0.2,
                       test_fraction=0.3, seed=0)


@pytest.fixture
def run_id(ws, dataset) -> str:
    """A saved run of the tiny random-init backbone on the colour dataset (trained directly, not as a job)."""
    import torch

    from tlcore.models.factory import create_backbone
    from tlcore.runs.store import save_run
    from tlcore.train.loop import train

    torch.manual_seed(0)
    result = train(ws, dataset, tiny_train_config(), backbone=create_backbone(TINY, pretrained=False))
    return save_run(ws, result, dataset, label="fixture")


__all__ = ["COLOURS", "autolinks", "class_zip", "csv_downloads", "formula_cells", "markdowns", "new_app", "open_page",
           "png_bytes", "run_until", "texts"]
