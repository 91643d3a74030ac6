"""Attention pointing (Kang et al.): the selected heads' native final-token attention, smoothed, argmax."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..pointer.result import PointResult


def attention_map(features, heads: list[tuple[int, int]], *, sigma: float = 1.0) -> np.ndarray:
    """Mean over ``heads`` of each head's ``attn_last`` on the grid, each Gaussian-smoothed with
    ``sigma`` (grid cells) and renormalised to sum 1 -> ``(P_h, P_w)``."""
    grid_h, grid_w = tuple(features.grid)
    maps = []
    for layer, head in heads:
        attn = features.layers[layer].attn_last[head]
        attn = (
            attn.detach().float().cpu().numpy()
            if hasattr(attn, "detach")
            else np.asarray(attn, dtype=np.float64)
        )
        smooth = gaussian_filter(
            attn.reshape(grid_h, grid_w).astype(np.float64), sigma=sigma, mode="constant"
        )
        maps.append(smooth / max(smooth.sum(), 1e-12))
    return np.mean(maps, axis=0)


def attention_point(features, heads: list[tuple[int, int]], *, sigma: float = 1.0) -> PointResult:
    """Point at the centre of the argmax patch of :func:`attention_map`, in original image pixels.
    The score is the peak cell's share of the (normalised) map."""
    heat = attention_map(features, heads, sigma=sigma)
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    x, y = features.to_image_xy(col + 0.5, row + 0.5)
    width, height = features.image_size
    return PointResult(
        x=float(x),
        y=float(y),
        score=float(heat[row, col]),
        heatmap=heat,
        width=int(width),
        height=int(height),
    )
