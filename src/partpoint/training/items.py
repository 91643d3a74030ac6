"""Cache entries -> training items (targets at the pointer's heatmap scale), grid buckets, batches."""

from __future__ import annotations

import numpy as np
import torch

from ..losses import bce_target, signed_distance
from ..pointer import PointerBatch, collate
from .cache import entry_mask

FINE_SCALE = 8  # hit tests use the part mask at 8 x 8 points per grid cell


def prepare_items(entries: list[dict], *, scale: int, fine_scale: int = FINE_SCALE,
                  target: str = "cells") -> tuple[list[dict], list[str]]:
    """Add ``distance`` ``(P_h*s, P_w*s)`` (signed distance in patch units) and ``fine_mask``
    ``(P_h*f, P_w*f)`` to each entry, and make ``patch_target`` the BCE target (``target``: the part
    cells, or the cached coverage); entries whose part misses every heatmap cell are dropped.

    Returns:
        ``(items, dropped_keys)``. Items keep the cache's fp16 tensors (converted per batch).
    """
    items, dropped = [], []
    for entry in entries:
        mask = entry_mask(entry, scale)  # (P_h*s, P_w*s)
        if not mask.any():
            dropped.append(entry["key"])
            continue
        items.append(
            {
                **entry,
                "coverage": entry["patch_target"],
                "patch_target": bce_target(entry["patch_target"], target),
                "distance": torch.from_numpy(signed_distance(mask, unit=scale)),
                "fine_mask": entry_mask(entry, fine_scale),
            }
        )
    return items, dropped


def plan_epoch(grids: list[tuple[int, int]], *, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of item indices for one epoch: items bucketed by grid, shuffled within buckets, cut into
    batches, and the batch order shuffled; a function of ``(seed, epoch)`` only (exact resume)."""
    rng = np.random.default_rng([seed, epoch])
    buckets: dict[tuple[int, int], list[int]] = {}
    for index, grid in enumerate(grids):
        buckets.setdefault(tuple(grid), []).append(index)
    batches = []
    for grid in sorted(buckets):
        order = rng.permutation(buckets[grid]).tolist()
        batches.extend(order[i : i + batch_size] for i in range(0, len(order), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def make_batch(items: list[dict], indices: list[int], *, device="cpu") -> PointerBatch:
    """Collate ``items[indices]`` (one grid) into a float32 :class:`PointerBatch` on ``device``, with its
    training targets ``patch_target (B, P)`` and ``distance (B, P_h*s, P_w*s)``."""
    picked = [
        {
            "q_text": items[i]["q_text"].float(),
            "text_mask": torch.ones(items[i]["q_text"].shape[1], dtype=torch.bool),
            "k_image": items[i]["k_image"].float(),
            "v_image": items[i]["v_image"].float(),
            "patch_target": items[i]["patch_target"].float(),
            "distance": items[i]["distance"],
            "grid": items[i]["grid"],
        }
        for i in indices
    ]
    return collate(picked).to(device)
