"""The pointer's total training loss ``L = L_bce + lambda * L_sdf`` from a forward output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from .bce import patch_bce
from .sdf import sdf_loss


@dataclass
class LossTerms:
    """``total`` is what to backpropagate; ``bce`` and ``sdf`` are for logging (detached)."""

    total: torch.Tensor
    bce: torch.Tensor
    sdf: torch.Tensor


def pointer_loss(
    output,
    patch_target: torch.Tensor,
    distance: torch.Tensor,
    *,
    tau: float = 2.0,
    gamma: float = 4.0,
    lam: float = 1.0,
    use_sdf: bool = True,
    pos_weight: float | None = None,
    sdf_cap: float | None = None,
    inside_slope: float = 0.0,
) -> LossTerms:
    """Total loss of a :class:`partpoint.pointer.PointerOutput`.

    Args:
        output: has ``patch_logits (B, k, P)`` and ``heatmap (B, H', W')``.
        patch_target: ``(B, P)`` part fraction per grid cell.
        distance: ``(B, H', W')`` signed distance at heatmap resolution (patch units).
        use_sdf: False replaces the SDF term by :func:`inside_mass_loss` (ablation).
        sdf_cap, inside_slope: see :func:`partpoint.losses.sdf.sdf_loss`.

    ``LossTerms.sdf`` holds the heatmap term (SDF or inside-mass) for logging.
    """
    bce = patch_bce(output.patch_logits, patch_target, pos_weight=pos_weight)
    if use_sdf:
        heat = sdf_loss(output.heatmap, distance, tau=tau, gamma=gamma, cap=sdf_cap, inside_slope=inside_slope)
    else:
        heat = inside_mass_loss(output.heatmap, distance < 0)
    total = bce + lam * heat
    return LossTerms(total=total, bce=bce.detach(), sdf=heat.detach())


def inside_mass_loss(heatmap_logits: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """``-log`` of the heatmap's softmax mass inside the part: region coverage, no pull to the centre.

    The ``use_sdf=False`` ablation uses this so that the decoder is still trained.

    Args:
        heatmap_logits: ``(B, H', W')``.
        inside: ``(B, H', W')`` bool.
    """
    log_probs = rearrange(heatmap_logits, "b h w -> b (h w)").log_softmax(dim=-1)  # (B, H'W')
    masked = log_probs.masked_fill(~rearrange(inside, "b h w -> b (h w)"), float("-inf"))
    return -torch.logsumexp(masked, dim=-1).mean()
