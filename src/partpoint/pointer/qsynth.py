"""Q-Synth: synthesize one grounding-aware query from all text queries of one attention head."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class CrossAttention(nn.Module):
    """Multi-head cross-attention of latents over a masked context (perceiver style, no bias on q/k/v)."""

    def __init__(self, *, dim: int, heads: int = 2, dim_head: int | None = None):
        super().__init__()
        dim_head = dim_head or max(dim // heads, 8)
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, latents: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """latents ``(B, N, dim)``, context ``(B, L, dim)``, mask ``(B, L)`` bool (True = real token)
        -> ``(B, N, dim)``."""
        q = rearrange(self.to_q(latents), "b n (h e) -> b h n e", h=self.heads)  # (B, h, N, e)
        k, v = rearrange(self.to_kv(context), "b l (two h e) -> two b h l e", two=2, h=self.heads)
        sim = torch.einsum("bhne,bhle->bhnl", q, k) * self.scale  # (B, h, N, L)
        sim = sim.masked_fill(~rearrange(mask, "b l -> b 1 1 l"), torch.finfo(sim.dtype).min)
        out = torch.einsum("bhnl,bhle->bhne", sim.softmax(dim=-1), v)  # (B, h, N, e)
        return self.to_out(rearrange(out, "b h n e -> b n (h e)"))


class FeedForward(nn.Sequential):
    """Pre-norm GELU MLP ``dim -> dim * mult -> dim``."""

    def __init__(self, *, dim: int, mult: int = 2):
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


class QSynth(nn.Module):
    """N learnable latents absorb the text queries ``Q_t`` over ``T`` cross-attention rounds
    (keys = values = ``Q_t``); an MLP scores each latent and the softmax-weighted sum is ``q_s``.

    Round ``t``: ``Z <- Z + CrossAttn(LN(Z), LN(Q_t), mask)``, then ``Z <- Z + FF(Z)`` (pre-norm).
    Output: ``q_s = sum_n softmax_n(MLP(LN(z_n))) * W_out LN(z_n)``, in the head's query space.

    Args:
        dim: the head dimension ``d`` of the backbone (queries and keys live in ``R^d``).
        num_latents: ``N``.
        depth: ``T``, the number of cross-attention rounds.
        attn_heads: heads inside each cross-attention (1-4).
        ff_mult: hidden width multiplier of the feed-forward blocks.
    """

    def __init__(
        self, *, dim: int, num_latents: int = 8, depth: int = 2, attn_heads: int = 2, ff_mult: int = 2
    ):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)  # (N, d)
        self.context_norm = nn.LayerNorm(dim)
        self.rounds = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.LayerNorm(dim),
                    CrossAttention(dim=dim, heads=attn_heads),
                    FeedForward(dim=dim, mult=ff_mult),
                ]
            )
            for _ in range(depth)
        )
        self.out_norm = nn.LayerNorm(dim)
        self.score = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1, bias=False)
        )  # softmax: no bias
        self.to_query = nn.Linear(dim, dim)

    def forward(self, text_queries: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """text_queries ``(B, L, d)``, text_mask ``(B, L)`` bool (True = real token) -> q_s ``(B, d)``."""
        if text_mask is None:
            text_mask = torch.ones(text_queries.shape[:2], dtype=torch.bool, device=text_queries.device)
        context = self.context_norm(text_queries)  # (B, L, d)
        z = self.latents.expand(text_queries.shape[0], -1, -1)  # (B, N, d)
        for norm, attend, feed_forward in self.rounds:
            z = z + attend(norm(z), context, text_mask)
            z = z + feed_forward(z)
        z = self.out_norm(z)  # (B, N, d)
        weights = self.score(z).softmax(dim=1)  # (B, N, 1)
        return self.to_query((weights * z).sum(dim=1))  # (B, d)
