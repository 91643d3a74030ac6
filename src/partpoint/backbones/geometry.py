"""Where each image token came from: a per-axis affine map from grid coordinates to original pixels.

Resize, centre crop, padding and Qwen's dynamic resize all act on each axis independently as
``x_input = a * x + b``, and the token grid tiles the model input in ``cell_px`` squares, so the
composition is exact: ``x = sx * u + ox``, ``y = sy * v + oy`` (see docs/DESIGN.md, Coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GridGeometry:
    """Maps continuous grid coords ``(u, v)`` (``u`` column in ``0..P_w``, ``v`` row) to original pixels.

    ``input_size`` is the processed image (W, H) the vision tower saw; ``cell_px`` the processed
    pixels per grid cell along (x, y) (patch size, times the merge size for Qwen-style merging).
    """

    sx: float
    ox: float
    sy: float
    oy: float
    grid: tuple[int, int]  # (P_h, P_w)
    input_size: tuple[int, int]  # (W, H) of the processed image
    cell_px: tuple[float, float]  # processed pixels per grid cell along (x, y)

    @classmethod
    def from_input_map(
        cls,
        *,
        scale: tuple[float, float],
        offset: tuple[float, float],
        grid: tuple[int, int],
        input_size: tuple[int, int],
        cell_px: tuple[float, float],
    ) -> GridGeometry:
        """Build from the processor's map original -> input pixels: ``x_in = scale_x * x - offset_x``."""
        (ax, ay), (bx, by), (cx, cy) = scale, offset, cell_px
        return cls(sx=cx / ax, ox=bx / ax, sy=cy / ay, oy=by / ay, grid=grid, input_size=input_size, cell_px=cell_px)

    def to_image_xy(self, u, v):
        """Grid coords -> original-image pixels ``(x, y)``; floats or arrays (broadcast)."""
        return self.sx * np.asarray(u, dtype=np.float64) + self.ox, self.sy * np.asarray(v, dtype=np.float64) + self.oy

    def to_grid_uv(self, x, y):
        """Original-image pixels -> grid coords ``(u, v)`` (the inverse of :meth:`to_image_xy`)."""
        return (np.asarray(x, dtype=np.float64) - self.ox) / self.sx, (np.asarray(y, dtype=np.float64) - self.oy) / self.sy

    def input_to_image_xy(self, x_in, y_in):
        """Model-input pixels (what a text-pointing answer refers to) -> original-image pixels."""
        return self.to_image_xy(np.asarray(x_in, dtype=np.float64) / self.cell_px[0],
                                np.asarray(y_in, dtype=np.float64) / self.cell_px[1])

    def to_json(self) -> dict:
        return {"sx": self.sx, "ox": self.ox, "sy": self.sy, "oy": self.oy, "grid": list(self.grid),
                "input_size": list(self.input_size), "cell_px": list(self.cell_px)}
