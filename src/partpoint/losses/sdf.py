"""Asymmetric signed-distance penalty field that pulls the heatmap to the part's innermost point.

Sign convention: ``D > 0`` outside the part, ``D < 0`` inside, ``|D|`` in grid-patch units measured
between heatmap-cell centres, with the part boundary half-way between an inside and an outside cell
(so the cells next to the boundary get ``D = +-0.5 / unit``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from scipy.ndimage import distance_transform_edt

from ..errors import DataError
from .config import LossConfig


def signed_distance(mask_hw: np.ndarray, *, unit: float = 1.0) -> np.ndarray:
    """Signed distance of every cell of a boolean mask, in units of ``unit`` cells.

    Args:
        mask_hw: ``(H', W')`` bool, the part sampled at heatmap-cell centres
            (``features.sample_mask(mask, scale=s)``).
        unit: cells per patch; pass the heatmap upsampling factor ``s`` to get patch units.

    Returns:
        ``(H', W')`` float32: ``> 0`` outside, ``< 0`` inside. The image border counts as outside
        for inside cells, so a mask covering the whole map still has a deepest point (its centre).
    """
    mask = np.asarray(mask_hw, dtype=bool)
    if mask.ndim != 2:
        raise DataError(f"signed_distance needs a 2-D mask, got shape {mask.shape}; pass one (H, W) mask")
    if not mask.any():
        raise DataError("signed_distance got an empty mask; drop samples whose part is not visible")
    outside = distance_transform_edt(~mask)  # (H', W') 0 inside, distance to nearest inside cell outside
    inside = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]  # (H', W') 0 outside
    signed = np.where(mask, -(inside - 0.5), outside - 0.5)
    return (signed / float(unit)).astype(np.float32)


def sdf_penalty(distance: torch.Tensor, *, tau: float = LossConfig.tau,
                gamma: float = LossConfig.gamma) -> torch.Tensor:
    """Smooth asymmetric penalty ``f(x) = (1 + (gamma - 1) * sigmoid(tau x)) * softplus(tau x) / tau``.

    ``f`` is positive and strictly increasing (for ``gamma >= 1``): deep inside it decays like
    ``exp(tau x) / tau`` (the innermost point costs least), outside it grows like ``gamma * x``
    (leaving the part costs ``gamma`` times more per unit distance than going deeper earns).

    Args:
        distance: any shape, signed distance in patch units.
        tau: steepness (1 / patch units).
        gamma: outside/inside asymmetry, ``>= 1``.
    """
    scaled = tau * distance
    return (1.0 + (gamma - 1.0) * torch.sigmoid(scaled)) * F.softplus(scaled) / tau


def sdf_loss(
    heatmap_logits: torch.Tensor,
    distance: torch.Tensor,
    *,
    tau: float = LossConfig.tau,
    gamma: float = LossConfig.gamma,
    cap: float | None = None,
    inside_slope: float = 0.0,
    present: torch.Tensor | None = None,
) -> torch.Tensor:
    """Expected penalty under the heatmap distribution: ``mean_b sum_{ij} softmax(H_b)_{ij} g(D_b)_{ij}``,
    ``g(D) = f(min(D, cap)) + inside_slope * min(D, 0)``.

    ``cap`` (patches) bounds the outside penalty: with ``f`` growing without bound the expected penalty is
    minimised by the spatial median of where the part may be (the image centre, when unsure), while a
    hit needs the mode; a bounded penalty is closer to the 0/1 hit loss. ``inside_slope`` keeps a pull
    toward the innermost point where ``f`` has flattened (``f(-2) = 0.009`` at tau 2).

    Args:
        heatmap_logits: ``(B, H', W')`` logits.
        distance: ``(B, H', W')`` signed distance (patch units) at the same resolution.
        present: optional ``(B,)`` bool; the mean runs over these samples only (negatives have no part).
    """
    probs = rearrange(heatmap_logits, "b h w -> b (h w)").softmax(dim=-1)  # (B, H'W')
    distance = rearrange(distance, "b h w -> b (h w)")  # (B, H'W')
    clipped = distance if cap is None else distance.clamp(max=cap)
    penalty = sdf_penalty(clipped, tau=tau, gamma=gamma) + inside_slope * distance.clamp(max=0.0)  # (B, H'W')
    return present_mean((probs * penalty).sum(dim=-1), present)


def present_mean(values: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample ``values (B,)`` over the samples with a part (all when ``present`` is None; 0 when
    none has one)."""
    if present is None:
        return values.mean()
    weights = present.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)
