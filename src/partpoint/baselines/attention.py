"""Attention pointing (Kang et al.): the selected heads' native final-token attention, smoothed, argmax.

``combine="sum"`` (the default) is the authors' public code: sum the heads' RAW maps (``attn_last``
times its mass on the image), one Gaussian smoothing with reflect padding (scipy's default mode),
argmax. ``combine="mean"`` is partpoint's earlier variant: each head's map renormalised, smoothed with
zero padding (which pulls the argmax off the border), renormalised again and averaged.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..pointer.result import PointResult

COMBINES = ("sum", "mean")


def _numpy(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().float().cpu().numpy()
    return np.asarray(tensor, dtype=np.float64)


def attention_map(features, heads: list[tuple[int, int]], *, sigma: float = 1.0, combine: str = "sum") -> np.ndarray:
    """The heads' combined final-token attention on the grid of backbone ``Features`` -> ``(P_h, P_w)``
    (:func:`combine_attention` of each head's ``attn_last`` row and ``attn_last_mass``)."""
    rows = [features.layers[layer].attn_last[head] for layer, head in heads]
    masses = [features.layers[layer].attn_last_mass[head] for layer, head in heads]
    return combine_attention(rows, masses, tuple(features.grid), sigma=sigma, combine=combine)


def combine_attention(rows, masses, grid: tuple[int, int], *, sigma: float = 1.0, combine: str = "sum") -> np.ndarray:
    """Combine k heads' final-token attention into one map on the grid, normalised to sum 1 -> ``(P_h, P_w)``.

    Args:
        rows: k maps ``(P,)`` each renormalised to sum 1 (``attn_last`` of a head; a ``(k, P)`` tensor works).
        masses: k raw attention masses on the image (``attn_last_mass``); ``row * mass`` is the raw map.
        grid: ``(P_h, P_w)``.
        sigma: Gaussian smoothing in grid cells.
        combine: ``"sum"`` (reference) or ``"mean"`` (partpoint's earlier variant); see the module docstring.
    """
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {', '.join(COMBINES)}, got {combine!r}")
    if combine == "sum":
        raw = sum(_numpy(row) * float(_numpy(mass)) for row, mass in zip(rows, masses))
        heat = gaussian_filter(np.asarray(raw).reshape(grid), sigma=sigma, mode="reflect")
        return heat / max(heat.sum(), 1e-12)
    maps = []
    for row in rows:
        smooth = gaussian_filter(_numpy(row).reshape(grid), sigma=sigma, mode="constant")
        maps.append(smooth / max(smooth.sum(), 1e-12))
    return np.mean(maps, axis=0)


def attention_point(features, heads: list[tuple[int, int]], *, sigma: float = 1.0, combine: str = "sum") -> PointResult:
    """Point at the centre of the argmax patch of :func:`attention_map`, in original image pixels.
    The score is the peak cell's share of the (normalised) map."""
    heat = attention_map(features, heads, sigma=sigma, combine=combine)
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
