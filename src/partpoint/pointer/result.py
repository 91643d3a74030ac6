"""Result types of the pointer's forward pass and of pointing at an image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class PointerOutput:
    """``patch_logits (B, k, P)`` = ``exp(log_scale_h) * q_s K^T / sqrt(d) + bias_h`` (what the BCE sees);
    ``attn (B, k, P)`` = ``softmax_p(q_s K^T / sqrt(d))`` (rows sum to 1); ``heatmap (B, H', W')`` logits."""

    patch_logits: torch.Tensor
    attn: torch.Tensor
    heatmap: torch.Tensor


@dataclass
class PointResult:
    """A point in ORIGINAL image pixels (``x`` right, ``y`` down, continuous), its confidence in
    ``[0, 1]``, the heatmap it came from (``(H', W')`` probabilities, or None for baselines without one)
    and the image size."""

    x: float
    y: float
    score: float
    heatmap: np.ndarray | None = field(repr=False)
    width: int
    height: int
