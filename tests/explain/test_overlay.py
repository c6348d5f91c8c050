"""Overlays: plain uint8 arrays, sign options, opacity, colour scales."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.explain import CMAPS, colorbar, colorize, normalize_map, overlay, resize_map


def _image(h=20, w=30):
    return np.full((h, w, 3), 100, dtype=np.uint8)


def test_sign_options():
    amap = np.array([[-2.0, 0.0], [1.0, 4.0]])
    assert np.allclose(normalize_map(amap, "positive", percentile=100), [[0, 0], [0.25, 1]])
    assert np.allclose(normalize_map(amap, "absolute", percentile=100), [[0.5, 0], [0.25, 1]])
    assert np.allclose(normalize_map(amap, "negative", percentile=100), [[1, 0], [0, 0]])
    assert np.array_equal(normalize_map(np.zeros((3, 3))), np.zeros((3, 3)))
    assert np.isfinite(normalize_map(np.array([[np.nan, np.inf], [1.0, 2.0]]))).all()
    with pytest.raises(ValueError, match="sign must be one of"):
        normalize_map(amap, "both")


def test_percentile_clips_outliers():
    amap = np.linspace(0, 1, 1000).reshape(10, 100)
    amap[0, 0] = 1000.0
    v = normalize_map(amap, "positive", percentile=99)
    assert v.max() == 1.0 and 0.9 < np.median(v[v > 0]) * 2 < 1.1  # not squashed by the outlier


def test_overlay_shape_dtype_and_opacity_extremes():
    img = _image()
    amap = np.zeros((20, 30))
    amap[:, 15:] = 1.0
    assert np.array_equal(overlay(img, amap, opacity=0.0), img)
    full = overlay(img, amap, opacity=1.0, cmap="jet")
    assert full.shape == (20, 30, 3) and full.dtype == np.uint8
    assert tuple(full[0, 29]) == tuple(colorize(np.array([[1.0]]), "jet")[0, 0])  # high end: dark red
    assert tuple(full[0, 0]) == tuple(colorize(np.array([[0.0]]), "jet")[0, 0])  # low end: dark blue
    half = overlay(img, amap, opacity=0.5)
    assert np.all(np.abs(half.astype(int) - (img.astype(int) + full.astype(int)) / 2) <= 1)


def test_overlay_resizes_a_smaller_map_and_refuses_bad_images():
    out = overlay(_image(40, 40), np.eye(5), sign="absolute", opacity=0.7, cmap="viridis")
    assert out.shape == (40, 40, 3)
    assert resize_map(np.ones((5, 5)), (40, 40)).shape == (40, 40)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        overlay(np.zeros((4, 4), dtype=np.uint8), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="opacity"):
        overlay(_image(), np.zeros((20, 30)), opacity=1.5)
    with pytest.raises(ValueError, match="cmap"):
        overlay(_image(), np.zeros((20, 30)), cmap="rainbow-unicorn")


@pytest.mark.parametrize("cmap", sorted(CMAPS))
def test_colour_scales_run_from_dark_to_light_or_blue_to_red(cmap):
    bar = colorbar(cmap, length=64, thickness=4)
    assert bar.shape == (4, 64, 3) and bar.dtype == np.uint8
    assert not np.array_equal(bar[0, 0], bar[0, -1])
