"""Groups of widgets that build config dataclasses; lasting choices are kept under ``ui.state`` keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui import state

if TYPE_CHECKING:
    from tlcore.data.augment import AugmentConfig


def augment_controls(prefix: str) -> "AugmentConfig":
    """Toggles and sliders for the training augmentations; the choice is shared by the Data and Train pages."""
    from tlcore.data.augment import AugmentConfig

    current: AugmentConfig = st.session_state.get(state.AUGMENT) or AugmentConfig()
    c1, c2, c3, c4, c5 = st.columns(5)
    hflip = c1.checkbox("Horizontal flip", value=current.hflip, key=f"aug-{prefix}-hflip",
                        help="Mirror left-right at random. Off for text, digits and other handed things.")
    vflip = c2.checkbox("Vertical flip", value=current.vflip, key=f"aug-{prefix}-vflip",
                        help="Mirror top-bottom at random (aerial and microscope images).")
    rotation = c3.slider("Rotation (± degrees)", 0, 45, int(current.rotation), step=5, key=f"aug-{prefix}-rotation")
    scale_min = c4.slider("Random crop: keep at least", 0.5, 1.0, float(current.scale_min), step=0.05,
                          key=f"aug-{prefix}-scale", help="Fraction of the image area a random crop keeps; 1 = off.")
    color = c5.slider("Colour jitter", 0.0, 0.5, float(current.color), step=0.05, key=f"aug-{prefix}-color",
                      help="Random brightness, contrast and saturation changes; 0 = off.")
    augment = AugmentConfig(hflip=hflip, vflip=vflip, rotation=float(rotation), scale_min=float(scale_min),
                            color=float(color))
    st.session_state[state.AUGMENT] = augment
    return augment


def set_augment(augment: "AugmentConfig") -> None:
    """Replace the shared augmentation choice (the widgets pick it up on their next draw)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("aug-")]:
        del st.session_state[key]
    st.session_state[state.AUGMENT] = augment
