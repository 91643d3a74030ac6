"""Heatmap -> point with sub-patch precision."""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange


class Peak(NamedTuple):
    """Heatmap peaks ``u`` (column), ``v`` (row) in continuous grid units and ``score`` (window mass), each
    ``(B,)``, and the heatmaps' probabilities ``probs (B, H', W')`` (one softmax serves all)."""

    u: torch.Tensor
    v: torch.Tensor
    score: torch.Tensor
    probs: torch.Tensor


def _parabola_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex offset in ``[-0.5, 0.5]`` of the parabola through three equally spaced logits."""
    curvature = left - 2 * centre + right
    offset = 0.5 * (left - right) / torch.where(curvature < 0, curvature, torch.full_like(curvature, -1e12))
    return offset.clamp(-0.5, 0.5)


def heatmap_peak(heatmap: torch.Tensor, grid: tuple[int, int], *, window: int = 1) -> Peak:
    """Peak of each heatmap in continuous grid coordinates.

    The peak cell is the argmax; its position is refined per axis by a parabola through the
    logits of the peak and its two neighbours (exact for a Gaussian bump, whose logits are
    quadratic; no refinement at the border or where the logits are not concave). Heatmap cell
    ``(i, j)`` has grid coords ``((j + 0.5) / s, (i + 0.5) / s)``.

    Args:
        heatmap: ``(B, H', W')`` logits with ``H' = P_h * s``, ``W' = P_w * s``.
        grid: ``(P_h, P_w)``.
        window: half-size of the window whose softmax mass (over the whole map) is the score.

    Returns:
        a :class:`Peak`: column and row in grid units, the probability mass of the ``(2 window + 1)^2``
        window around the peak, and the probabilities.
    """
    batch, height, width = heatmap.shape
    scale = height / grid[0]
    if width / grid[1] != scale or scale != int(scale):
        raise ValueError(f"heatmap {height}x{width} is not an integer upsampling of grid {grid[0]}x{grid[1]}")
    flat = rearrange(heatmap, "b h w -> b (h w)")
    index = flat.argmax(dim=-1)  # (B,)
    rows, cols = index // width, index % width
    batch_ids = torch.arange(batch)
    padded = torch.nn.functional.pad(heatmap, (1, 1, 1, 1), value=float("nan"))  # (B, H'+2, W'+2)
    centre = heatmap[batch_ids, rows, cols]

    def neighbour(d_row: int, d_col: int) -> torch.Tensor:
        return padded[batch_ids, rows + 1 + d_row, cols + 1 + d_col]

    d_col = torch.nan_to_num(_parabola_offset(neighbour(0, -1), centre, neighbour(0, 1)), nan=0.0)
    d_row = torch.nan_to_num(_parabola_offset(neighbour(-1, 0), centre, neighbour(1, 0)), nan=0.0)
    u = (cols.to(heatmap.dtype) + 0.5 + d_col) / scale
    v = (rows.to(heatmap.dtype) + 0.5 + d_row) / scale

    probs = flat.softmax(dim=-1).reshape(batch, height, width)
    window_mass = torch.stack([probs[b, max(r - window, 0) : r + window + 1,
                                     max(c - window, 0) : c + window + 1].sum() for b, r,
                                     c in zip(range(batch), rows.tolist(), cols.tolist())])
    return Peak(u, v, window_mass, probs)


def separated_peaks(probs, count: int, *, min_distance: float) -> list[tuple[int, int]]:
    """Up to ``count`` peaks ``(row, col)`` of a 2-D map, strongest first, each at least ``min_distance``
    cells (Euclidean) from every stronger one kept (greedy non-maximum suppression)."""
    import numpy as np

    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs.ravel(), kind="stable")
    rows, cols = np.unravel_index(order, probs.shape)
    kept: list[tuple[int, int]] = []
    for row, col in zip(rows.tolist(), cols.tolist()):
        if len(kept) == count:
            break
        if all((row - r) ** 2 + (col - c) ** 2 >= min_distance**2 for r, c in kept):
            kept.append((row, col))
    return kept
