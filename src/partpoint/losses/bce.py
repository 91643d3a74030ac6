"""Patch-wise binary cross-entropy that supervises the synthesized attention ``q_s K_v^T``, and the
patch mask it trains on (also the mask of the evaluation's patch accuracy).

**Part cells** (the patch mask): a grid cell is a part cell when its coverage (the fraction of the cell
inside the part mask, ``Features.grid_mask``: 4 x 4 sub-samples per cell) is >= 0.5; when no cell
reaches 0.5 (a part smaller than a cell) the cell(s) of maximum coverage are. The BCE trains on them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import repeat

PART_CELL_COVERAGE = 0.5


def part_cells(coverage: np.ndarray) -> np.ndarray:
    """Coverage per grid cell (any shape) -> bool part cells (module docstring)."""
    coverage = np.asarray(coverage, dtype=np.float64)
    cells = coverage >= PART_CELL_COVERAGE
    if not cells.any() and coverage.max(initial=0.0) > 0:
        cells = coverage == coverage.max()
    return cells


def patch_bce(patch_logits: torch.Tensor, target: torch.Tensor,
              valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean BCE between every head's patch logits and the part mask on the patch grid.

    Args:
        patch_logits: ``(B, k, P)`` logits, one row per selected head.
        target: ``(B, P)`` target in ``[0, 1]`` (the part cells).
        valid: optional ``(B, P)`` bool, False for padded patches (they are ignored).

    Returns:
        Scalar: the mean over batch, heads and valid patches.
    """
    num_heads = patch_logits.shape[1]
    target = repeat(target.to(patch_logits.dtype), "b p -> b k p", k=num_heads)  # (B, k, P)
    loss = F.binary_cross_entropy_with_logits(patch_logits, target, reduction="none")  # (B, k, P)
    if valid is None:
        return loss.mean()
    mask = repeat(valid.to(loss.dtype), "b p -> b k p", k=num_heads)  # (B, k, P)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)
