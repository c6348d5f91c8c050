"""The raw-pixel baseline: one row of 32x32 RGB values per image."""

from __future__ import annotations

from tlcore.evaluate.baseline import PIXEL_SIDE, pixel_matrix


def test_pixel_matrix_has_one_row_of_32x32_rgb_values_per_image(ws, dataset):
    x = pixel_matrix(ws, dataset)
    assert x.shape == (27, 3 * PIXEL_SIDE * PIXEL_SIDE) and 0 <= x.min() and x.max() <= 1
    red = dataset.classes.index("red")
    mean_rgb = x[dataset.labels == red].reshape(-1, PIXEL_SIDE * PIXEL_SIDE, 3).mean(axis=(0, 1))
    assert mean_rgb[0] > 0.6 and mean_rgb[2] < 0.3  # the synthetic red class is red
