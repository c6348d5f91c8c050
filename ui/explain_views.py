"""The Explain page's result: each image with its maps side by side, faithfulness verdicts and the sanity check."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.text import md_escape


def show_explanation(result: Any, classes: tuple[str, ...], sign: str, opacity: float) -> None:
    """Render a :class:`tlcore.explain.RunExplanation`: a caption line and a row of overlays per image."""
    from tlcore.explain import METHODS, overlay

    st.divider()
    for i, item in enumerate(result.images):
        right = {None: "", True: " ✓", False: " ✗"}[item.correct]
        truth = "" if item.true_label is None else f" · true: {md_escape(classes[item.true_label])}{right}"
        st.markdown(f"**{md_escape(item.name)}** — predicted **{md_escape(classes[item.predicted])}** "
                    f"({item.probs[item.predicted]:.0%}){truth} · maps explain "
                    f"*{md_escape(classes[item.target])}*")
        columns = st.columns(1 + len(result.methods))
        columns[0].image(item.image, caption="image", width="stretch")
        for column, method in zip(columns[1:], result.methods):
            a = item.maps[method]
            delta = "" if a.delta is None else f" · convergence Δ {a.delta:+.3f}"
            column.image(overlay(item.image, a.map, sign=sign, opacity=opacity), width="stretch",
                         caption=f"{METHODS[method].label} · {a.seconds:.2f} s{delta}")
            if method in result.faithfulness:
                column.caption(result.faithfulness[method][i].verdict)
    if result.sanity:
        st.subheader("Can these maps be trusted?")
        for check in result.sanity.values():
            (st.success if check.passed else st.warning)(check.verdict)
