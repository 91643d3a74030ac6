"""A2P decoder: synthesized attention of k heads + their image values -> high-resolution heatmap."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def conv_block(in_channels: int, out_channels: int, padding: str = "zeros") -> nn.Sequential:
    """3x3 conv + GroupNorm + GELU (spatial size kept); ``padding``: ``"zeros"`` or ``"replicate"``."""
    groups = next(g for g in (8, 4, 2, 1) if out_channels % g == 0)
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                                   padding_mode=padding), nn.GroupNorm(groups, out_channels), nn.GELU())


class A2PDecoder(nn.Module):
    """Per head ``h``: ``m_h = A_h / max_p A_h`` (peak-normalised attention in ``[0, 1]``) and
    ``F_h = [m_h * LN(V_h) ; m_h]`` per patch, ``(d + 1)`` channels on the ``(P_h, P_w)`` grid.
    An MLP on the spatial mean of each ``F_h`` gives softmax weights ``w`` over heads; the maps
    ``k * w_h * F_h`` are concatenated along channels, fused by a 1x1 conv, then refined by
    ``len(stage_dims)`` rounds of (3x3 conv block, bilinear x2), a last conv block and a 1x1 conv
    to one channel.

    Args:
        num_heads: ``k``, the number of localization heads.
        head_dim: ``d``.
        dim: channels after the 1x1 fusion.
        stage_dims: output channels of each upsampling stage; upsampling factor is ``2 ** len``.
        use_values: False = ablation, each head contributes only its map ``m_h`` (one channel).
        weight_hidden: hidden width of the head-weighting MLP.
        residual: the output is ``upsample(log mean_h A_h) + delta``, the last 1x1 conv (``delta``)
            initialised to zero: the decoder starts as the synthesized attention itself and learns
            corrections, so it has a direct path from ``A_s`` and no prior toward any place.
        padding: padding mode of the 3x3 convs (``"zeros"`` or ``"replicate"``).
    """

    def __init__(
        self,
        *,
        num_heads: int,
        head_dim: int,
        dim: int = 64,
        stage_dims: tuple[int, ...] = (64, 32),
        use_values: bool = True,
        weight_hidden: int = 32,
        residual: bool = False,
        padding: str = "zeros",
    ):
        super().__init__()
        self.residual = residual
        self.num_heads = num_heads
        self.use_values = use_values
        self.upsample = 2 ** len(stage_dims)
        per_head = head_dim + 1 if use_values else 1
        self.value_norm = nn.LayerNorm(head_dim) if use_values else None
        self.head_weights = nn.Sequential(nn.Linear(per_head, weight_hidden), nn.GELU(),
                                          nn.Linear(weight_hidden, 1, bias=False))
        self.fuse = nn.Conv2d(num_heads * per_head, dim, kernel_size=1)
        dims = (dim, *stage_dims)
        self.stages = nn.ModuleList(conv_block(c_in, c_out, padding) for c_in,
                                    c_out in zip(dims[:-1], dims[1:]))
        self.refine = conv_block(dims[-1], dims[-1], padding)
        # no bias: a constant added to every logit cancels in softmax(H) (the SDF loss and the score) and
        # in the argmax, so its gradient is zero by construction and it could never learn anything
        self.to_logits = nn.Conv2d(dims[-1], 1, kernel_size=1, bias=False)
        if residual:
            nn.init.zeros_(self.to_logits.weight)

    def head_features(self, attn: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        """attn ``(B, k, P)``, values ``(B, k, P, d)`` -> per-head features ``(B, k, P, C)``."""
        peak_normalised = attn / attn.amax(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, k, P)
        feats = rearrange(peak_normalised, "b k p -> b k p 1")  # (B, k, P, 1)
        if self.use_values:
            feats = torch.cat([feats * self.value_norm(values), feats], dim=-1)  # (B, k, P, d + 1)
        return feats

    def forward(self, attn: torch.Tensor, values: torch.Tensor | None, grid: tuple[int, int]) -> torch.Tensor:
        """attn ``(B, k, P)`` (rows sum to 1), values ``(B, k, P, d)`` (ignored when ``use_values``
        is False), grid ``(P_h, P_w)`` with ``P = P_h * P_w`` -> logits ``(B, P_h * s, P_w * s)``."""
        grid_h, grid_w = grid
        if attn.shape[-1] != grid_h * grid_w:
            raise ValueError(f"attention has {attn.shape[-1]} patches but grid {grid_h}x{grid_w}; pass the "
                             "right grid")
        feats = self.head_features(attn, values)  # (B, k, P, C)
        weights = self.head_weights(feats.mean(dim=2)).softmax(dim=1)  # (B, k, 1)
        feats = feats * rearrange(weights * self.num_heads, "b k 1 -> b k 1 1")  # (B, k, P, C)
        x = rearrange(feats, "b k (ph pw) c -> b (k c) ph pw", ph=grid_h, pw=grid_w)  # (B, kC, P_h, P_w)
        # channels-last: oneDNN convolutions and bilinear upsampling skip their layout copies (1.5x on CPU)
        x = self.fuse(x.contiguous(memory_format=torch.channels_last))  # (B, dim, P_h, P_w)
        for stage in self.stages:
            x = F.interpolate(stage(x), scale_factor=2, mode="bilinear", align_corners=False)
        delta = rearrange(self.to_logits(self.refine(x)), "b 1 h w -> b h w")  # (B, P_h * s, P_w * s)
        if not self.residual:
            return delta
        log_mean = rearrange(attn.mean(dim=1).clamp_min(1e-12).log(), "b (ph pw) -> b 1 ph pw", ph=grid_h,
                             pw=grid_w)
        base = F.interpolate(log_mean, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        return rearrange(base, "b 1 h w -> b h w") + delta
