"""The pointer's total training loss ``L = L_bce + lambda * L_sdf`` from a forward output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

from .bce import patch_bce
from .config import LossConfig
from .sdf import present_mean, sdf_loss


@dataclass
class LossTerms:
    """``total`` is what to backpropagate; ``bce`` and ``sdf`` are for logging (detached)."""

    total: torch.Tensor
    bce: torch.Tensor
    sdf: torch.Tensor


def pointer_loss(output, patch_target: torch.Tensor, distance: torch.Tensor,
                 config: LossConfig | None = None, present: torch.Tensor | None = None) -> LossTerms:
    """Total loss of a :class:`partpoint.pointer.PointerOutput`.

    Args:
        output: has ``patch_logits (B, k, P)`` and ``heatmap (B, H', W')``.
        patch_target: ``(B, P)`` the BCE target per grid cell.
        distance: ``(B, H', W')`` signed distance at heatmap resolution (patch units).
        config: the loss settings (default: ``LossConfig()``).
        present: optional ``(B,)`` bool, False for negatives: their BCE target is all zeros (nothing to find)
            and they have no heatmap term; with a presence logit it is that head's BCE target.

    ``LossTerms.sdf`` holds the heatmap term (SDF or inside-mass) for logging.
    """
    config = config or LossConfig()
    bce = patch_bce(output.patch_logits, patch_target)
    if config.use_sdf:
        heat = sdf_loss(output.heatmap, distance, tau=config.tau, gamma=config.gamma, cap=config.sdf_cap,
                        inside_slope=config.inside_slope, present=present)
    else:
        heat = inside_mass_loss(output.heatmap, distance < 0, present=present)
    total = bce + config.lam * heat
    if output.presence_logit is not None and present is not None:
        total = total + config.presence_weight * F.binary_cross_entropy_with_logits(
            output.presence_logit, present.to(output.presence_logit.dtype))
    return LossTerms(total=total, bce=bce.detach(), sdf=heat.detach())


def inside_mass_loss(heatmap_logits: torch.Tensor, inside: torch.Tensor,
                     present: torch.Tensor | None = None) -> torch.Tensor:
    """``-log`` of the heatmap's softmax mass inside the part: region coverage, no pull to the centre.

    The ``use_sdf=False`` ablation uses this so that the decoder is still trained.

    Args:
        heatmap_logits: ``(B, H', W')``.
        inside: ``(B, H', W')`` bool.
    """
    log_probs = rearrange(heatmap_logits, "b h w -> b (h w)").log_softmax(dim=-1)  # (B, H'W')
    masked = log_probs.masked_fill(~rearrange(inside, "b h w -> b (h w)"), float("-inf"))
    if present is not None:  # a negative has no inside: keep its term finite, then leave it out
        masked = masked.masked_fill(~rearrange(present, "b -> b 1"), 0.0)
    return present_mean(-torch.logsumexp(masked, dim=-1), present)
