"""Path rules shared by every source: junk files and wrapping folders."""

from __future__ import annotations

from tlcore.data.importing.paths import junk_reason, strip_wrapper


def test_junk_rules_and_wrapper_stripping() -> None:
    assert junk_reason(".git/config") == "junk file (hidden file)"
    assert junk_reason("cats/.hidden.png") == "junk file (hidden file)"
    assert junk_reason("cats/desktop.ini") == "junk file (Windows metadata)"
    assert junk_reason("cats/a.png") is None
    assert strip_wrapper(["a/b/cat/x.png", "a/b/dog/y.png"]) == (["cat/x.png", "dog/y.png"], "a/b")
    assert strip_wrapper(["cat/x.png", "dog/y.png"]) == (["cat/x.png", "dog/y.png"], "")
    assert strip_wrapper(["w/cat/x.png", "w/readme.txt"]) == (["cat/x.png", "readme.txt"], "w")
