"""Showing user-supplied text (class names, file names, dataset names) as text, never as markup.

Streamlit renders markdown (and its ``:color[...]`` / ``:emoji:`` directives) in ``st.markdown``, captions,
labels and many other places; plotly renders a subset of HTML in labels and hover text. Names that come
from uploads go through these helpers before they reach such places, or through ``st.text`` /
``st.dataframe`` / ``st.code``, which never interpret markup.
"""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=^\"'])")
WORD_JOINER = "\u2060"  # invisible, and no line break: breaks a link pattern without changing what a person sees
# GFM turns "http://", "https://", "www." and "name@host.tld" in plain text into links, even with every character
# backslash-escaped (remark-gfm finds them in the text after escapes are resolved): a word joiner inside each
# pattern ("http:<WJ>//", "www<WJ>.", "name<WJ>@host") stops that.
_AUTOLINK_SEAM = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?=@)")


def md_escape(text: str) -> str:
    """``text`` shown literally in markdown: every markdown/Streamlit-directive character backslash-escaped, newlines
    flattened, and a word joiner inside ``http://``, ``www.`` and ``@`` so that no name becomes a clickable link."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK_SEAM.sub(WORD_JOINER, flat))


def plotly_escape(text: str) -> str:
    """``text`` for plotly labels and hover text: HTML special characters become entities."""
    return html.escape(str(text), quote=False)


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for captions under thumbnails."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
