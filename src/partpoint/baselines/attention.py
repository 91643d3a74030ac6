"""Attention pointing (Kang et al.): the selected heads' native final-token attention, smoothed, argmax.

As the authors' public code: sum the heads' RAW maps (``attn_last`` times its mass on the image), one
Gaussian smoothing with reflect padding (scipy's default mode), argmax.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..pointer.result import PointResult


def _numpy(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().float().cpu().numpy()
    return np.asarray(tensor, dtype=np.float64)


def attention_map(features, heads: list[tuple[int, int]], *, sigma: float = 1.0) -> np.ndarray:
    """The heads' combined final-token attention on the grid of backbone ``Features`` -> ``(P_h, P_w)``
    (:func:`combine_attention` of each head's ``attn_last`` row and ``attn_last_mass``)."""
    rows = [features.layers[layer].attn_last[head] for layer, head in heads]
    masses = [features.layers[layer].attn_last_mass[head] for layer, head in heads]
    return combine_attention(rows, masses, tuple(features.grid), sigma=sigma)


def combine_attention(rows, masses, grid: tuple[int, int], *, sigma: float = 1.0) -> np.ndarray:
    """k heads' final-token attention summed raw, smoothed and normalised to sum 1 -> ``(P_h, P_w)``.

    Args:
        rows: k maps ``(P,)`` each renormalised to sum 1 (``attn_last`` of a head; a ``(k, P)`` tensor works).
        masses: k raw attention masses on the image (``attn_last_mass``); ``row * mass`` is the raw map.
        grid: ``(P_h, P_w)``.
        sigma: Gaussian smoothing in grid cells.
    """
    raw = sum(_numpy(row) * float(_numpy(mass)) for row, mass in zip(rows, masses))
    heat = gaussian_filter(np.asarray(raw).reshape(grid), sigma=sigma, mode="reflect")
    return heat / max(heat.sum(), 1e-12)


def attention_point(features, heads: list[tuple[int, int]], *, sigma: float = 1.0,
                    instruction: str | None = None) -> PointResult:
    """Point at the centre of the argmax patch of :func:`attention_map`, in original image pixels.
    The score is the peak cell's share of the (normalised) map."""
    heat = attention_map(features, heads, sigma=sigma)
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    x, y = features.to_image_xy(col + 0.5, row + 0.5)
    width, height = features.image_size
    return PointResult(x=float(x), y=float(y), score=float(heat[row, col]), heatmap=heat, width=int(width),
                       height=int(height), geometry=features.geometry, instruction=instruction)
