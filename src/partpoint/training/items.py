"""Cached records -> training records (targets at the pointer's heatmap scale), grid buckets, batches."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..losses import part_cells, signed_distance
from ..pointer import PointerBatch, SampleFeatures, collate

FINE_SCALE = 8  # hit tests use the part mask at 8 x 8 points per grid cell


def prepare_items(records: list[SampleFeatures], *, scale: int) -> tuple[list[SampleFeatures], list[str]]:
    """Give each record its training targets: ``patch_target (P,)`` (the part cells, the BCE target) and
    ``distance (P_h*s, P_w*s)`` (signed distance to the part in patch units); records whose part misses every
    heatmap cell are dropped. A negative (``present=False``) gets an all-zero ``patch_target`` and a zero
    ``distance`` (the loss gives it no heatmap term). Returns ``(records, dropped keys)``."""
    items, dropped = [], []
    for record in records:
        mask = record.mask(scale)  # (P_h*s, P_w*s)
        if not record.present:
            items.append(replace(record, patch_target=torch.zeros(mask.shape[0] * mask.shape[1] // scale**2),
                                 distance=torch.zeros(mask.shape)))
            continue
        if not mask.any():
            dropped.append(record.key)
            continue
        items.append(replace(record,
                             patch_target=torch.from_numpy(part_cells(record.coverage.numpy())).float(),
                             distance=torch.from_numpy(signed_distance(mask, unit=scale))))
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


def make_batch(items: list[SampleFeatures], indices: list[int], *, device="cpu") -> PointerBatch:
    """``items[indices]`` (one grid) as a float32 :class:`PointerBatch` on ``device``, targets included."""
    return collate([items[i] for i in indices]).to(device)
