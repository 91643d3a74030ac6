"""Overlays: the heatmap lands where the geometry says (crop-aware), same size, marker and caption drawn."""

from __future__ import annotations

import numpy as np
from PIL import Image

from partpoint.backbones import GridGeometry
from partpoint.io.viz import draw_overlay, heatmap_on_image
from partpoint.pointer import PointResult

# LLaVA-like: a 120 x 80 image, centre crop x in [20, 100), 4 x 4 grid of 20-px cells
CROP = GridGeometry(sx=20.0, ox=20.0, sy=20.0, oy=0.0, grid=(4, 4), input_size=(64, 64), cell_px=(16.0, 16.0))


def one_hot_heatmap(row: int, col: int, scale: int = 2) -> np.ndarray:
    heat = np.zeros((4 * scale, 4 * scale))
    heat[row, col] = 1.0
    return heat


def test_heatmap_is_placed_through_the_geometry_and_blank_outside_the_crop():
    heat = heatmap_on_image(one_hot_heatmap(3, 5), CROP, (120, 80))  # cell centre: u = 2.75, v = 1.75
    assert heat.shape == (80, 120)
    assert np.isnan(heat[:, :20]).all() and np.isnan(heat[:, 100:]).all() and np.isfinite(heat[:,
                                                                                               20:100]).all()
    row, col = np.unravel_index(np.nanargmax(heat), heat.shape)
    assert abs(col + 0.5 - (20 + 20 * 2.75)) <= 5 and abs(row + 0.5 - 20 * 1.75) <= 5


def test_heatmap_of_grid_resolution_maps_cell_to_cell():
    heat = heatmap_on_image(one_hot_heatmap(0, 3, scale=1), CROP, (120, 80))
    assert heat[10,
                90] > 0.95  # pixel centre (90.5, 10.5), next to the centre (90, 10) of cell (row 0, col 3)
    assert heat[70, 30] == 0.0


def test_overlay_keeps_the_size_draws_the_marker_and_caption_and_leaves_cropped_pixels():
    image = Image.new("RGB", (120, 80), (128, 128, 128))
    result = PointResult(x=75.0, y=35.0, score=0.5, heatmap=one_hot_heatmap(3, 5), width=120, height=80,
                         geometry=CROP, instruction="Point to the handle.")
    overlay = draw_overlay(image, result)
    pixels = np.asarray(overlay).astype(int)
    assert overlay.size == (120, 80) and overlay.mode == "RGB"
    assert tuple(pixels[35, 75]) == (255, 0, 200)  # marker core
    assert (pixels[75, 5] == 128).all()  # left of the crop, below the caption: untouched
    assert (pixels[75, 60] != 128).any()  # inside the crop: tinted
    assert pixels[:5, 60:100].mean() < 100  # the caption band darkens the top


def test_overlay_without_heatmap_draws_only_the_point():
    image = Image.new("RGB", (50, 40), (10, 200, 10))
    result = PointResult(x=10.0, y=30.0, score=0.0, heatmap=None, width=50, height=40)
    pixels = np.asarray(draw_overlay(image, result)).astype(int)
    assert tuple(pixels[30, 10]) == (255, 0, 200) and tuple(pixels[5, 45]) == (10, 200, 10)
