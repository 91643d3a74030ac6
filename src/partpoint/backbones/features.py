"""What ``Backbone.encode`` returns: per-layer captured attention tensors plus the grid geometry."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import DataError
from .geometry import GridGeometry

_SUBSAMPLES = 4  # grid_mask samples each cell at 4 x 4 sub-points


@dataclass
class LayerFeatures:
    """One decoder layer's capture for one (image, prompt) pair.

    ``q_text``: (L, H, d) post-RoPE queries of the text tokens after the image (``[-1]`` = final token).
    ``k_image``, ``v_image``: (P, H, d) post-RoPE keys / values of the image tokens, expanded to the
    H query heads (query head ``h`` reads KV head ``h // n_rep``).
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


@dataclass
class Features:
    """Captured layers of one (image, prompt) pair and the map from token grid to original pixels."""

    layers: dict[int, LayerFeatures]
    geometry: GridGeometry
    image_size: tuple[int, int]  # (W, H) of the original image
    text_tokens: list[str] = field(default_factory=list)  # the L text tokens after the image

    @property
    def grid(self) -> tuple[int, int]:
        """(P_h, P_w); image tokens are row-major over it."""
        return self.geometry.grid

    def to_image_xy(self, u, v):
        """Continuous grid coords (u = column in 0..P_w, v = row in 0..P_h) -> original pixels (x, y)."""
        return self.geometry.to_image_xy(u, v)

    def grid_mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool mask of the original image -> (P_h, P_w) float: fraction of each cell inside it.

        Each cell is sampled at 4 x 4 sub-points mapped through the geometry; points outside the image
        count as outside the mask.
        """
        p_h, p_w = self.grid
        offsets = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES
        u = (np.arange(p_w)[:, None] + offsets[None, :]).reshape(-1)  # (P_w * 4,)
        v = (np.arange(p_h)[:, None] + offsets[None, :]).reshape(-1)  # (P_h * 4,)
        inside = self._sample(mask, u, v)  # (P_h * 4, P_w * 4)
        return inside.reshape(p_h, _SUBSAMPLES, p_w, _SUBSAMPLES).mean(axis=(1, 3))

    def sample_mask(self, mask: np.ndarray, *, scale: int = 1) -> np.ndarray:
        """(H, W) bool mask -> (P_h * scale, P_w * scale) bool sampled at heatmap-cell centres."""
        p_h, p_w = self.grid
        u = (np.arange(p_w * scale) + 0.5) / scale
        v = (np.arange(p_h * scale) + 0.5) / scale
        return self._sample(mask, u, v) > 0

    def _sample(self, mask: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Mask values at grid coords ``u`` (columns) x ``v`` (rows) -> (len(v), len(u)) float, 0 outside."""
        mask = np.asarray(mask)
        w, h = self.image_size
        if mask.shape[:2] != (h, w):
            raise DataError(f"mask has shape {mask.shape[:2]} but the image is {h}x{w} (H x W); pass a mask of the image")
        x, _ = self.to_image_xy(u, np.zeros_like(u))
        _, y = self.to_image_xy(np.zeros_like(v), v)
        col, row = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        col_ok, row_ok = (col >= 0) & (col < w), (row >= 0) & (row < h)
        values = mask[np.clip(row, 0, h - 1)[:, None], np.clip(col, 0, w - 1)[None, :]].astype(np.float64)
        return values * (row_ok[:, None] & col_ok[None, :])
