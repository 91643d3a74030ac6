"""Patch-wise binary cross-entropy that supervises the synthesized attention ``q_s K_v^T``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import repeat


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
        target: ``(B, P)`` soft target in ``[0, 1]`` (fraction of each grid cell inside the part).
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
