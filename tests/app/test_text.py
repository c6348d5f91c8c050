"""``ui.text``: user-supplied names shown as text in markdown, never as markup and never as a clickable link."""

from __future__ import annotations

import pytest

from tests.app.conftest import autolinks
from ui.text import WORD_JOINER, md_escape

LINKY = ["http://evil.example/x", "HTTPS://EVIL.EXAMPLE", "see www.evil.com", "WWW.EVIL.COM", "mail me@evil.example",
         "mailto:me@evil.example", "cats.http://x"]


@pytest.mark.parametrize("name", LINKY)
def test_links_inside_names_do_not_become_links(name):
    shown = md_escape(name)
    assert autolinks(shown) == []
    assert shown.replace("\\", "").replace(WORD_JOINER, "") == name  # a person reads the name as typed


@pytest.mark.parametrize("name", ["cats/1.png", "a.b.c", "x:y", "wwwx.png", "10:30 // note"])
def test_names_without_links_are_only_escaped(name):
    assert WORD_JOINER not in md_escape(name) or "//" in name
    assert md_escape(name).replace("\\", "").replace(WORD_JOINER, "") == name
