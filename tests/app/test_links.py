"""Names that hold ``http://``, ``www.`` or ``name@host`` are shown as literal text wherever the app renders markdown:
the sidebar, import messages and reports, image captions (checked on the markdown source, as GFM would link it)."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import autolinks, class_zip, markdowns, new_app, open_page

DATA = "pages/2_Data.py"
INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")  # zero-width characters a person does not see
NAME = "see http://evil.example/x, www.evil.com or me@evil.example"


def plain(markdown: str) -> str:
    """What a person reads: escapes resolved, word joiners unseen."""
    return INVISIBLE.sub("", re.sub(r"\\(.)", r"\1", markdown))


def no_links(at) -> list[str]:
    shown = markdowns(at)
    assert not [s for s in shown if autolinks(s)], [s for s in shown if autolinks(s)]
    return [plain(s) for s in shown]


@pytest.fixture
def dataset(ws, tmp_path):
    """The colour classes under a dataset name full of links."""
    from tests.synthetic import write_class_folder
    from tlcore.data import import_folder

    root = write_class_folder(tmp_path / "imgs", n_per_class=10, size=24)
    ds, _ = import_folder(ws, root, name=NAME)
    return ds


def test_the_sidebar_shows_a_linky_dataset_name_as_text(ws, dataset, run_id):
    at = new_app(tl_dataset_id=dataset.id, tl_run_id=run_id)
    at.run()
    assert not at.exception
    assert any(NAME in s for s in no_links(at))  # the run panel's caption names the dataset


def test_linky_class_and_file_names_in_an_upload_are_shown_as_text(ws):
    data = class_zip({"www.evil.com": (200, 40, 40), "me@evil.example": (40, 60, 200)}, n_per_class=6,
                     extra={"www.evil.com/broken.png": b"not an image"})
    at = open_page(DATA)
    at.file_uploader(key="data-upload-0").set_value([("http://evil.example/a.zip", data, "application/zip")])
    at.run()
    at.button(key="data-import").click().run()
    assert not at.exception
    shown = no_links(at)
    assert any(s.startswith("www.evil.com/") for s in shown)  # image captions
    assert any(s.startswith("me@evil.example/") for s in shown)


def test_an_import_message_shows_linky_file_names_as_text(ws):
    at = open_page(DATA)
    at.file_uploader(key="data-upload-0").set_value([("http://evil.example/www.evil.com me@evil.example.zip",
                                                      b"PK\x03\x04 not really a zip", "application/zip")])
    at.run()
    at.button(key="data-import").click().run()
    assert not at.exception
    [error] = [plain(e.value) for e in at.error]
    assert "http://evil.example/www.evil.com me@evil.example.zip" in error
    no_links(at)
