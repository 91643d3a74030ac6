"""Patch-wise binary cross-entropy that supervises the synthesized attention ``q_s K_v^T``, and the
patch mask it trains on (also the mask of the evaluation's patch accuracy).

**Part cells** (the patch mask): a grid cell is a part cell when its coverage (the fraction of the cell
inside the part mask, ``Features.grid_mask``: 4 x 4 sub-samples per cell) is >= 0.5; when no cell
reaches 0.5 (a part smaller than a cell) the cell(s) of maximum coverage are. ``bce_target="cells"``
(the default) trains on exactly these cells; ``"coverage"`` trains on the soft coverage itself.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import repeat

PART_CELL_COVERAGE = 0.5
BCE_TARGETS = ("cells", "coverage")


def part_cells(coverage: np.ndarray) -> np.ndarray:
    """Coverage per grid cell (any shape) -> bool part cells (module docstring)."""
    coverage = np.asarray(coverage, dtype=np.float64)
    cells = coverage >= PART_CELL_COVERAGE
    if not cells.any() and coverage.max(initial=0.0) > 0:
        cells = coverage == coverage.max()
    return cells


def bce_target(coverage: torch.Tensor, kind: str = "cells") -> torch.Tensor:
    """The BCE target of one sample from its cached coverage ``(P,)``: the part cells as 0/1, or the coverage."""
    if kind not in BCE_TARGETS:
        raise ValueError(f"bce_target must be one of {', '.join(BCE_TARGETS)}, got {kind!r}")
    if kind == "coverage":
        return coverage
    return torch.from_numpy(part_cells(coverage.float().numpy())).to(coverage.dtype)


def patch_bce(
    patch_logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    pos_weight: float | None = None,
) -> torch.Tensor:
    """Mean BCE between every head's patch logits and the part mask on the patch grid.

    Args:
        patch_logits: ``(B, k, P)`` logits, one row per selected head.
        target: ``(B, P)`` target in ``[0, 1]`` (:func:`bce_target`: part cells, or coverage).
        valid: optional ``(B, P)`` bool, False for padded patches (they are ignored).
        pos_weight: optional weight of the positive term (parts are small; ``None`` = 1).

    Returns:
        Scalar: the mean over batch, heads and valid patches.
    """
    num_heads = patch_logits.shape[1]
    target = repeat(target.to(patch_logits.dtype), "b p -> b k p", k=num_heads)  # (B, k, P)
    weight = None if pos_weight is None else torch.tensor(pos_weight, dtype=patch_logits.dtype)
    loss = F.binary_cross_entropy_with_logits(
        patch_logits, target, reduction="none", pos_weight=weight
    )  # (B, k, P)
    if valid is None:
        return loss.mean()
    mask = repeat(valid.to(loss.dtype), "b p -> b k p", k=num_heads)  # (B, k, P)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)
