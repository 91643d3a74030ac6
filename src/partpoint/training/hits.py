"""Hit rates computed from the feature cache alone (no image decoding): the pointer and the
attention-pointing baseline. A point hits when it lands inside the part mask sampled at
``FINE_SCALE`` points per grid cell (the mask cell under the point decides)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ..baselines.attention import attention_map
from .items import FINE_SCALE, make_batch, plan_epoch


def point_hits(fine_mask: np.ndarray, u: float, v: float, *, fine_scale: int = FINE_SCALE) -> bool:
    """Whether grid point ``(u, v)`` falls in ``fine_mask`` ``(P_h*f, P_w*f)``."""
    rows, cols = fine_mask.shape
    row = min(max(int(np.floor(v * fine_scale)), 0), rows - 1)
    col = min(max(int(np.floor(u * fine_scale)), 0), cols - 1)
    return bool(fine_mask[row, col])


@torch.no_grad()
def pointer_hit_rate(pointer, items: list[dict], *, batch_size: int = 32, device="cpu") -> float:
    """Fraction of ``items`` where the pointer's heatmap peak lands inside the part."""
    if not items:
        return float("nan")
    was_training = pointer.training
    pointer.eval()
    hits = 0
    grids = [item["grid"] for item in items]
    for indices in plan_epoch(grids, batch_size=batch_size, seed=0, epoch=0):
        batch = make_batch(items, indices, device=device)
        output = pointer(batch["q_text"], batch["text_mask"], batch["k_image"], batch["v_image"], batch["grid"])
        u, v, _ = pointer.predict_point(output, batch["grid"])
        hits += sum(point_hits(items[i]["fine_mask"], float(a), float(b)) for i, a, b in zip(indices, u.cpu(), v.cpu()))
    pointer.train(was_training)
    return hits / len(items)


def attention_hit_rate(items: list[dict], *, sigma: float = 1.0) -> float:
    """Hit rate of attention pointing (:func:`partpoint.baselines.attention.attention_map`) on the
    cached ``attn_last`` of the selected heads: argmax cell of the smoothed mean map, its centre."""
    if not items:
        return float("nan")
    hits = 0
    for item in items:
        attn = item["attn_last"].float()  # (k, P)
        features = SimpleNamespace(grid=item["grid"], layers={0: SimpleNamespace(attn_last=attn)})
        heat = attention_map(features, [(0, h) for h in range(attn.shape[0])], sigma=sigma)  # (P_h, P_w)
        row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
        hits += point_hits(item["fine_mask"], col + 0.5, row + 0.5)
    return hits / len(items)
