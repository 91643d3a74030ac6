"""Hit rates computed from the feature cache alone (no image decoding): the pointer and the
attention-pointing baseline. A point hits when it lands inside the part mask sampled at
``FINE_SCALE`` points per grid cell (the mask cell under the point decides)."""

from __future__ import annotations

import numpy as np
import torch

from ..baselines.attention import combine_attention
from .items import FINE_SCALE, make_batch, plan_epoch


def point_hits(fine_mask: np.ndarray, u: float, v: float, *, fine_scale: int = FINE_SCALE) -> bool:
    """Whether grid point ``(u, v)`` falls in ``fine_mask`` ``(P_h*f, P_w*f)`` (a record's ``mask(f)``)."""
    rows, cols = fine_mask.shape
    row = min(max(int(np.floor(v * fine_scale)), 0), rows - 1)
    col = min(max(int(np.floor(u * fine_scale)), 0), cols - 1)
    return bool(fine_mask[row, col])


def distance_at(item, u: float, v: float) -> float:
    """Signed distance (patches; < 0 inside) from grid point ``(u, v)`` to the part, read from
    ``item.distance``."""
    distance = item.distance
    scale = distance.shape[0] / item.grid[0]
    row = min(max(int(np.floor(v * scale)), 0), distance.shape[0] - 1)
    col = min(max(int(np.floor(u * scale)), 0), distance.shape[1] - 1)
    return float(distance[row, col])


def mean_outside_distance(items: list, points: list[tuple[float, float]]) -> float:
    """Mean over items of how far (patches) each point lies outside its part (0 inside): what the SDF term
    penalises, where the hit rate only counts inside / outside."""
    if not items:
        return float("nan")
    return float(np.mean([max(distance_at(item, u, v), 0.0) for item, (u, v) in zip(items, points)]))


@torch.no_grad()
def pointer_points(pointer, items: list, *, batch_size: int = 32, device="cpu") -> list[tuple[float, float]]:
    """The pointer's heatmap peak ``(u, v)`` in grid units for every item (item order)."""
    was_training = pointer.training
    pointer.eval()
    points: list[tuple[float, float]] = [(0.0, 0.0)] * len(items)
    grids = [item.grid for item in items]
    for indices in plan_epoch(grids, batch_size=batch_size, seed=0, epoch=0):
        batch = make_batch(items, indices, device=device)
        peak = pointer.predict_point(pointer(batch), batch.grid)
        for i, a, b in zip(indices, peak.u.cpu(), peak.v.cpu()):
            points[i] = (float(a), float(b))
    pointer.train(was_training)
    return points


def hit_rate(items: list, points: list[tuple[float, float]]) -> float:
    """Fraction of items whose point lands inside the part (its mask at ``FINE_SCALE``)."""
    if not items:
        return float("nan")
    return sum(point_hits(item.mask(FINE_SCALE), u, v) for item, (u, v) in zip(items, points)) / len(items)


def pointer_hit_rate(pointer, items: list, *, batch_size: int = 32, device="cpu") -> float:
    """Fraction of ``items`` where the pointer's heatmap peak lands inside the part."""
    return hit_rate(items, pointer_points(pointer, items, batch_size=batch_size, device=device))


def attention_points(items: list, *, sigma: float = 1.0) -> list[tuple[float, float]]:
    """Attention pointing (:func:`partpoint.baselines.attention.attention_map`) on the cached attention of
    the selected heads: centre of the argmax cell of the smoothed combined map, in grid units."""
    points = []
    for item in items:
        heat = combine_attention(list(item.attn_last.float()), list(item.attn_mass.float()), item.grid,
                                 sigma=sigma)
        row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
        points.append((col + 0.5, row + 0.5))
    return points


def attention_hit_rate(items: list, *, sigma: float = 1.0) -> float:
    """Hit rate of :func:`attention_points`."""
    return hit_rate(items, attention_points(items, sigma=sigma))
