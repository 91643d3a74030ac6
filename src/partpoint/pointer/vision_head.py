"""Vision head: one more localization head, whose image keys and values come from the vision tower.

The backbone's localization heads see the image through the projector and a few decoder layers of a small
LLM; on SynthParts val most of the pointer's misses land on another part or object (median 4 patches away),
not just beside the right one. The vision tower's patch features ``F (P, C)`` separate objects and parts
far better (the presence head's text-to-patch similarity alone points at 31% on SynthParts val). So the
pointer can add a head of its own, learned on the same targets:

    t   = W_t concat_h(Q_t[h])            (B, L, d)   the k heads' text queries, one context
    q_v = Q-Synth_v(t)                    (B, d)
    K_v = W_k LN(F), V_v = W_v LN(F)      (B, P, d)

which joins the k heads as head ``k + 1``: its ``q_v K_v^T`` gets the patch BCE, and A2P reads its attention
and values like any other head's.
"""

from __future__ import annotations

from einops import rearrange
from torch import nn

from .qsynth import QSynth


class VisionHead(nn.Module):
    """``(q_text (B, k, L, d), text_mask (B, L), vision (B, P, C))`` -> query ``(B, 1, d)``, keys and
    values ``(B, 1, P, d)``."""

    def __init__(self, *, num_heads: int, head_dim: int, vision_dim: int, num_latents: int, depth: int,
                 attn_heads: int, ff_mult: int):
        super().__init__()
        self.text = nn.Linear(num_heads * head_dim, head_dim)
        self.qsynth = QSynth(dim=head_dim, num_heads=1, num_latents=num_latents, depth=depth,
                             attn_heads=attn_heads, ff_mult=ff_mult)
        self.norm = nn.LayerNorm(vision_dim)
        self.keys = nn.Linear(vision_dim, head_dim)
        self.values = nn.Linear(vision_dim, head_dim)

    def forward(self, q_text, text_mask, vision):
        context = self.text(rearrange(q_text, "b k l d -> b 1 l (k d)"))  # (B, 1, L, d)
        query = self.qsynth(context, text_mask)  # (B, 1, d)
        patches = self.norm(vision)  # (B, P, C)
        return query, rearrange(self.keys(patches), "b p d -> b 1 p d"), rearrange(self.values(patches),
                                                                                   "b p d -> b 1 p d")
