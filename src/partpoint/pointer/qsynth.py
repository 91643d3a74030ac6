"""Q-Synth: synthesize one grounding-aware query from all text queries of one attention head.

The pointer needs one Q-Synth per localization head. The ``k`` of them share no weights but run
together: every weight carries a leading head axis and each matmul is one ``bmm`` over heads, so
``k`` Q-Synths cost about what one does (a Python loop over heads was most of ``point()``'s head time).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class GroupedLinear(nn.Module):
    """``k`` independent linear maps, map ``h`` applied to slice ``h``: ``(k, ..., in) -> (k, ..., out)``.
    Initialised like ``nn.Linear`` (uniform in ``+-1/sqrt(in)``)."""

    def __init__(self, *, groups: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, 1, out_features).uniform_(-bound,
                                                                               bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1, x.shape[-1])  # (k, M, in)
        out = torch.bmm(flat, self.weight) if self.bias is None else torch.baddbmm(self.bias, flat,
                                                                                   self.weight)
        return out.reshape(*x.shape[:-1], out.shape[-1])  # (k, ..., out)


class GroupedLayerNorm(nn.Module):
    """LayerNorm over the last axis with a separate affine per group: ``(k, ..., d) -> (k, ..., d)``."""

    def __init__(self, *, groups: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(groups, dim))
        self.bias = nn.Parameter(torch.zeros(groups, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        return F.layer_norm(x, x.shape[-1:]) * self.weight.view(shape) + self.bias.view(shape)


class CrossAttention(nn.Module):
    """Multi-head cross-attention of latents over a masked context (perceiver style, no bias on q/k/v),
    one independent set of weights per group."""

    def __init__(self, *, groups: int, dim: int, attn_heads: int = 2, dim_head: int | None = None):
        super().__init__()
        dim_head = dim_head or max(dim // attn_heads, 8)
        inner = attn_heads * dim_head
        self.attn_heads = attn_heads
        self.scale = dim_head**-0.5
        self.to_q = GroupedLinear(groups=groups, in_features=dim, out_features=inner, bias=False)
        self.to_kv = GroupedLinear(groups=groups, in_features=dim, out_features=2 * inner, bias=False)
        self.to_out = GroupedLinear(groups=groups, in_features=inner, out_features=dim)

    def forward(self, latents: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """latents ``(k, B, N, dim)``, context ``(k, B, L, dim)``, mask ``(B, L)`` bool (True = real token)
        -> ``(k, B, N, dim)``."""
        q = rearrange(self.to_q(latents), "g b n (h e) -> g b h n e", h=self.attn_heads)  # (k, B, h, N, e)
        k, v = rearrange(self.to_kv(context), "g b l (two h e) -> two g b h l e", two=2, h=self.attn_heads)
        sim = torch.einsum("gbhne,gbhle->gbhnl", q, k) * self.scale  # (k, B, h, N, L)
        sim = sim.masked_fill(~rearrange(mask, "b l -> 1 b 1 1 l"), torch.finfo(sim.dtype).min)
        out = torch.einsum("gbhnl,gbhle->gbhne", sim.softmax(dim=-1), v)  # (k, B, h, N, e)
        return self.to_out(rearrange(out, "g b h n e -> g b n (h e)"))


class FeedForward(nn.Sequential):
    """Pre-norm GELU MLP ``dim -> dim * mult -> dim`` per group."""

    def __init__(self, *, groups: int, dim: int, mult: int = 2):
        super().__init__(
            GroupedLayerNorm(groups=groups, dim=dim),
            GroupedLinear(groups=groups, in_features=dim, out_features=dim * mult),
            nn.GELU(),
            GroupedLinear(groups=groups, in_features=dim * mult, out_features=dim),
        )


class QSynth(nn.Module):
    """N learnable latents absorb the text queries ``Q_t`` over ``T`` cross-attention rounds
    (keys = values = ``Q_t``); an MLP scores each latent and the softmax-weighted sum is ``q_s``.
    ``num_heads`` independent Q-Synths (one per localization head, no shared weights) run at once.

    Round ``t``: ``Z <- Z + CrossAttn(LN(Z), LN(Q_t), mask)``, then ``Z <- Z + FF(Z)`` (pre-norm).
    Output: ``q_s = W_out sum_n softmax_n(MLP(LN(z_n))) LN(z_n)``, in the head's query space.

    Args:
        dim: the head dimension ``d`` of the backbone (queries and keys live in ``R^d``).
        num_heads: ``k``, the number of localization heads (each gets its own weights).
        num_latents: ``N``.
        depth: ``T``, the number of cross-attention rounds.
        attn_heads: heads inside each cross-attention (1-4).
        ff_mult: hidden width multiplier of the feed-forward blocks.
    """

    def __init__(self, *, dim: int, num_heads: int = 1, num_latents: int = 8, depth: int = 2,
                 attn_heads: int = 2, ff_mult: int = 2):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_heads, num_latents, dim) * 0.02)  # (k, N, d)
        self.context_norm = GroupedLayerNorm(groups=num_heads, dim=dim)
        self.rounds = nn.ModuleList(
            nn.ModuleList([GroupedLayerNorm(groups=num_heads, dim=dim),
                           CrossAttention(groups=num_heads, dim=dim, attn_heads=attn_heads),
                           FeedForward(groups=num_heads, dim=dim, mult=ff_mult)])
            for _ in range(depth)
        )
        self.out_norm = GroupedLayerNorm(groups=num_heads, dim=dim)
        self.score = nn.Sequential(  # softmax over latents: no bias on the last layer
            GroupedLinear(groups=num_heads, in_features=dim, out_features=dim),
            nn.GELU(),
            GroupedLinear(groups=num_heads, in_features=dim, out_features=1, bias=False),
        )
        self.to_query = GroupedLinear(groups=num_heads, in_features=dim, out_features=dim)

    def forward(self, text_queries: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """text_queries ``(B, k, L, d)``, text_mask ``(B, L)`` bool (True = real token) -> q_s ``(B, k,
        d)``."""
        if text_mask is None:
            batch, _, length, _ = text_queries.shape
            text_mask = torch.ones(batch, length, dtype=torch.bool, device=text_queries.device)
        context = self.context_norm(rearrange(text_queries, "b k l d -> k b l d"))  # (k, B, L, d)
        z = repeat_batch(self.latents, text_queries.shape[0])  # (k, B, N, d)
        for norm, attend, feed_forward in self.rounds:
            z = z + attend(norm(z), context, text_mask)
            z = z + feed_forward(z)
        z = self.out_norm(z)  # (k, B, N, d)
        weights = self.score(z).softmax(dim=2)  # (k, B, N, 1)
        q_s = self.to_query((weights * z).sum(dim=2))  # (k, B, d)
        return rearrange(q_s, "k b d -> b k d")


def repeat_batch(latents: torch.Tensor, batch: int) -> torch.Tensor:
    """``(k, N, d) -> (k, B, N, d)`` (a view)."""
    return latents.unsqueeze(1).expand(-1, batch, -1, -1)
