"""Presence head: is the part the instruction names in the image at all?

The localization heads' image keys barely say which objects an image shows (on SynthParts a linear probe of
their pooled keys and values finds an object class at AUROC 0.81; a head over them and the text queries
separates absent from present parts at 0.62), while the vision tower's patch features do. So the presence head
reads the instruction through the k heads' text queries and the image through the vision tower's patch
features (``PointerBatch.vision``, captured during the same forward):

    a_h   = softmax_l(w_h . Q_t[h, l])                       (B, k, L)  attention pooling per head
    t     = W_t concat_h(sum_l a_h[l] Q_t[h, l])             (B, r)     the instruction
    s_p   = cos(t, W_v F_p)                                  (B, P)     each patch against it
    logit = logsumexp_p(e^g s_p) - log P + b                 (B,)       a soft maximum over the image

It is trained with the pointer frozen, on training data and its negatives (``partpoint presence``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class PresenceHead(nn.Module):
    """``(q_text (B, k, L, d), text_mask (B, L), vision (B, P, C))`` -> presence logit ``(B,)``."""

    def __init__(self, *, num_heads: int, head_dim: int, vision_dim: int, dim: int):
        super().__init__()
        self.pool = nn.Parameter(torch.zeros(num_heads, head_dim))  # zeros: a mean over the tokens at first
        self.text = nn.Linear(num_heads * head_dim, dim)
        self.image = nn.Linear(vision_dim, dim)
        self.log_sharpness = nn.Parameter(torch.tensor(2.0))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, q_text: torch.Tensor, text_mask: torch.Tensor, vision: torch.Tensor) -> torch.Tensor:
        scores = torch.einsum("bkld,kd->bkl", q_text, self.pool)
        weights = scores.masked_fill(~rearrange(text_mask, "b l -> b 1 l"), float("-inf")).softmax(-1)
        pooled = rearrange(torch.einsum("bkl,bkld->bkd", weights, q_text), "b k d -> b (k d)")
        query = F.normalize(self.text(pooled), dim=-1)  # (B, r)
        patches = F.normalize(self.image(vision), dim=-1)  # (B, P, r)
        similarity = torch.einsum("br,bpr->bp", query, patches)
        soft_max = torch.logsumexp(similarity * self.log_sharpness.exp(), dim=-1) - math.log(vision.shape[1])
        return soft_max + self.bias
