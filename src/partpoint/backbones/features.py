"""What ``Backbone.encode`` returns: per-layer captured attention tensors plus the grid geometry."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .geometry import GridGeometry


@dataclass
class LayerFeatures:
    """One decoder layer's capture for one (image, prompt) pair, head-first.

    ``q_text``: (H, L, d) post-RoPE queries of the text tokens after the image (``[:, -1]`` = final token).
    ``k_image``, ``v_image``: (H_kv, P, d) post-RoPE keys / values of the image tokens, one per KV head
    (query head ``h`` reads KV head :meth:`kv_head`; nothing is repeated for grouped-query attention).
    ``attn_last``: (H, P) the final token's attention over image tokens, renormalised to sum 1.
    ``attn_last_mass``: (H,) the raw attention mass of the final token on image tokens.
    ``scale``: the model's attention scaling (``d ** -0.5`` for most models): logits = scale * q . k.
    """

    q_text: torch.Tensor
    k_image: torch.Tensor
    v_image: torch.Tensor
    attn_last: torch.Tensor
    attn_last_mass: torch.Tensor
    scale: float

    def kv_head(self, head: int) -> int:
        """The KV head query head ``head`` reads (``head // (H / H_kv)``)."""
        return head * self.k_image.shape[0] // self.q_text.shape[0]


@dataclass
class Features:
    """Captured layers of one (image, prompt) pair and the map from token grid to original pixels."""

    layers: dict[int, LayerFeatures]
    geometry: GridGeometry
    image_size: tuple[int, int]  # (W, H) of the original image
    text_tokens: list[str] = field(default_factory=list)  # the L text tokens after the image
    vision: torch.Tensor | None = None  # (P, C) vision-tower patch features on the grid (encode(vision=True))

    @property
    def grid(self) -> tuple[int, int]:
        """(P_h, P_w); image tokens are row-major over it."""
        return self.geometry.grid

    def to_image_xy(self, u, v):
        """Continuous grid coords (u = column in 0..P_w, v = row in 0..P_h) -> original pixels (x, y)."""
        return self.geometry.to_image_xy(u, v)

    def grid_mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool mask of the original image -> (P_h, P_w) coverage (see
        :meth:`GridGeometry.grid_mask`)."""
        return self.geometry.grid_mask(mask, image_size=self.image_size)

    def sample_mask(self, mask: np.ndarray, *, scale: int = 1) -> np.ndarray:
        """(H, W) bool mask -> (P_h * scale, P_w * scale) bool at heatmap-cell centres
        (:meth:`GridGeometry.sample_mask`)."""
        return self.geometry.sample_mask(mask, image_size=self.image_size, scale=scale)
