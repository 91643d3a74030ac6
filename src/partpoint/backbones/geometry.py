"""Where each image token came from: a per-axis affine map from grid coordinates to original pixels.

Resize, centre crop, padding and Qwen's dynamic resize all act on each axis independently as
``x_input = a * x + b``, and the token grid tiles the model input in ``cell_px`` squares, so the
composition is exact: ``x = sx * u + ox``, ``y = sy * v + oy`` (see docs/DESIGN.md, Coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

_SUBSAMPLES = 4  # grid_mask samples each cell at 4 x 4 sub-points


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
    def from_input_map(cls, *, scale: tuple[float, float], offset: tuple[float, float],
                       grid: tuple[int, int], input_size: tuple[int, int],
                       cell_px: tuple[float, float]) -> GridGeometry:
        """Build from the processor's map original -> input pixels: ``x_in = scale_x * x - offset_x``."""
        (ax, ay), (bx, by), (cx, cy) = scale, offset, cell_px
        return cls(sx=cx / ax, ox=bx / ax, sy=cy / ay, oy=by / ay, grid=grid, input_size=input_size,
                   cell_px=cell_px)

    def to_image_xy(self, u, v):
        """Grid coords -> original-image pixels ``(x, y)``; floats or arrays (broadcast)."""
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        return self.sx * u + self.ox, self.sy * v + self.oy

    def to_grid_uv(self, x, y):
        """Original-image pixels -> grid coords ``(u, v)`` (the inverse of :meth:`to_image_xy`)."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return (x - self.ox) / self.sx, (y - self.oy) / self.sy

    def input_to_image_xy(self, x_in, y_in):
        """Model-input pixels (what a text-pointing answer refers to) -> original-image pixels."""
        return self.to_image_xy(np.asarray(x_in, dtype=np.float64) / self.cell_px[0],
                                np.asarray(y_in, dtype=np.float64) / self.cell_px[1])

    def grid_mask(self, mask: np.ndarray, *, image_size: tuple[int, int]) -> np.ndarray:
        """(H, W) bool mask of the ``image_size`` (W, H) original image -> (P_h, P_w) float: the fraction of
        each cell inside it. Each cell is sampled at 4 x 4 sub-points mapped through the geometry; points
        outside the image count as outside the mask."""
        p_h, p_w = self.grid
        offsets = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES
        u = (np.arange(p_w)[:, None] + offsets[None, :]).reshape(-1)  # (P_w * 4,)
        v = (np.arange(p_h)[:, None] + offsets[None, :]).reshape(-1)  # (P_h * 4,)
        inside = self._sample(mask, u, v, image_size)  # (P_h * 4, P_w * 4)
        return inside.reshape(p_h, _SUBSAMPLES, p_w, _SUBSAMPLES).mean(axis=(1, 3))

    def sample_mask(self, mask: np.ndarray, *, image_size: tuple[int, int], scale: int = 1) -> np.ndarray:
        """(H, W) bool mask -> (P_h * scale, P_w * scale) bool sampled at heatmap-cell centres."""
        p_h, p_w = self.grid
        u = (np.arange(p_w * scale) + 0.5) / scale
        v = (np.arange(p_h * scale) + 0.5) / scale
        return self._sample(mask, u, v, image_size) > 0

    def _sample(self, mask: np.ndarray, u: np.ndarray, v: np.ndarray,
                image_size: tuple[int, int]) -> np.ndarray:
        """Mask values at grid coords ``u`` (columns) x ``v`` (rows) -> (len(v), len(u)) float, 0 outside."""
        mask = np.asarray(mask)
        w, h = image_size
        if mask.shape[:2] != (h, w):
            raise DataError(f"mask has shape {mask.shape[:2]} but the image is {h}x{w} (H x W); pass a mask "
                            "of the image")
        x, _ = self.to_image_xy(u, np.zeros_like(u))
        _, y = self.to_image_xy(np.zeros_like(v), v)
        col, row = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        col_ok, row_ok = (col >= 0) & (col < w), (row >= 0) & (row < h)
        values = mask[np.clip(row, 0, h - 1)[:, None], np.clip(col, 0, w - 1)[None, :]].astype(np.float64)
        return values * (row_ok[:, None] & col_ok[None, :])

    def to_json(self) -> dict:
        return {"sx": self.sx, "ox": self.ox, "sy": self.sy, "oy": self.oy, "grid": list(self.grid),
                "input_size": list(self.input_size), "cell_px": list(self.cell_px)}

    @classmethod
    def from_json(cls, data: dict) -> GridGeometry:
        """Inverse of :meth:`to_json`."""
        return cls(sx=float(data["sx"]), ox=float(data["ox"]), sy=float(data["sy"]), oy=float(data["oy"]),
                   grid=tuple(int(g) for g in data["grid"]),
                   input_size=tuple(int(s) for s in data["input_size"]),
                   cell_px=tuple(float(c) for c in data["cell_px"]))
