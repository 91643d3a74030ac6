"""Point by example: a part marked once on a reference photo (a point or a mask) is found again in new photos.

The reference part's descriptor is the weighted mean of the vision tower's L2-normalised patch features
(``Backbone.patch_features``) under it: the mask's coverage of each grid cell, or a Gaussian of ``SIGMA``
cells around the point. A new image's patches are scored by cosine similarity to the descriptors (the best of
several references); ``similarity / TEMPERATURE`` are the example's logits. Alone, their upsampled peak is the
point; with an instruction they are fused with the pointer's heatmap in log space (:func:`fuse`, weight
``WEIGHT`` on the example). The fused point depends on the weight ``w`` and ``TEMPERATURE`` ``T`` only through
``w / (T (1 - w))`` (a log-softmax shifts a map by a constant), so the weight alone is chosen on val; the
temperature shapes only the fused heatmap's spread (and so the confidence signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from .errors import InstructionError

SIGMA = 0.75  # cells: the reach of a reference point
TEMPERATURE = 0.05  # cosine similarity -> logits
WEIGHT = 0.5  # the example's share of the fused log-heatmap


class ExampleError(InstructionError):
    """A reference example cannot be used (no point or mask, a point off the image, an empty mask)."""


@dataclass(frozen=True)
class Example:
    """A reference photo (a path or a PIL image) and its part: ``point`` ``(x, y)`` in its pixels, or
    ``mask`` (an ``(H, W)`` array or a PNG path; inside where > 0)."""

    image: object
    point: tuple[float, float] | None = None
    mask: np.ndarray | str | Path | None = None

    def __post_init__(self):
        if (self.point is None) == (self.mask is None):
            raise ExampleError("an example marks its part with a point (x, y) or a mask, exactly one of them")

    def load_mask(self, size: tuple[int, int]) -> np.ndarray | None:
        """The mask as an ``(H, W)`` bool array of the reference's ``size`` ``(W, H)`` (None for a point)."""
        if self.mask is None:
            return None
        if isinstance(self.mask, (str, Path)):
            from .data.loaders.masks import PngMask

            mask = PngMask(paths=(Path(self.mask),)).load()
        else:
            mask = np.asarray(self.mask) > 0
        if mask.shape != (size[1], size[0]):
            raise ExampleError(f"the example mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                               f"{size[0]}x{size[1]}; give the mask of that image")
        return mask


def cell_weights(patches, example: Example) -> torch.Tensor:
    """``(P,)`` weights of the reference's grid cells: the mask's coverage, or a Gaussian around the point."""
    geometry, size = patches.geometry, patches.image_size
    p_h, p_w = geometry.grid
    mask = example.load_mask(size)
    if mask is not None:
        weights = torch.from_numpy(geometry.grid_mask(mask, image_size=size)).float().reshape(-1)
        if not weights.sum() > 0:
            raise ExampleError("the example mask covers none of the image the model sees; mark the part")
        return weights
    x, y = example.point
    u, v = (float(c) for c in geometry.to_grid_uv(x, y))
    if not (0 <= u <= p_w and 0 <= v <= p_h):
        raise ExampleError(f"the example point ({x:g}, {y:g}) lies outside the image the model sees")
    cols, rows = torch.arange(p_w) + 0.5, torch.arange(p_h) + 0.5
    squared = (cols[None, :] - u) ** 2 + (rows[:, None] - v) ** 2  # (P_h, P_w)
    return torch.exp(-squared / (2 * SIGMA**2)).reshape(-1)


def descriptor(patches, example: Example) -> torch.Tensor:
    """The reference part's unit descriptor ``(C,)``."""
    weights = cell_weights(patches, example)  # (P,)
    return F.normalize((weights[:, None] * F.normalize(patches.features, dim=-1)).sum(0), dim=0)


def similarity(patches, descriptors: torch.Tensor) -> torch.Tensor:
    """``(P_h, P_w)`` cosine similarity of each patch to its best reference; ``descriptors (K, C)``."""
    scores = F.normalize(patches.features, dim=-1) @ descriptors.T  # (P, K)
    p_h, p_w = patches.geometry.grid
    return rearrange(scores.max(dim=-1).values, "(h w) -> h w", h=p_h, w=p_w)


def example_logits(sim: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(H', W')`` logits of the example: ``similarity / TEMPERATURE`` upsampled bilinearly to ``size``."""
    logits = (sim / TEMPERATURE)[None, None]  # (1, 1, P_h, P_w)
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)[0, 0]


def fuse(pointer_logits: torch.Tensor, examples: torch.Tensor, weight: float = WEIGHT) -> torch.Tensor:
    """Log-space mix ``(1 - weight) log p_pointer + weight log p_example`` of two ``(H', W')`` logit maps."""
    flat = [rearrange(m, "h w -> (h w)").log_softmax(-1) for m in (pointer_logits, examples)]
    return ((1 - weight) * flat[0] + weight * flat[1]).reshape(pointer_logits.shape)
