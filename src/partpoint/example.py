"""Point by example: a part marked once on a reference photo (a point or a mask) is found again in new photos.

Each grid cell of a reference gets a label in [0, 1]: the mask's coverage of the cell, or a Gaussian of
``SIGMA`` cells around the point. The labels are carried to a new image's cells by soft nearest neighbours
(label transfer): a target cell's probability of being the part is

    p(cell) = sum_r softmax_r(cos(f_cell, f_r) / TEMPERATURE) label_r     over the cells r of all references,

so a cell that looks like the rest of the reference object, not its part, scores low. ``f`` is the pointer's
cell embedding (:meth:`PartPointer.cell_embedding`: its vision head's keys, else the vision tower's patches).
Alone, the upsampled peak of ``log p`` is the point; with an instruction it is fused with the pointer's
heatmap (:func:`fuse`): ``(1 - WEIGHT) z(L) + WEIGHT log p``, z standardising the pointer's logits ``L`` per
image (they span ~200 nats, so an unscaled log-space mix hardly ever moves their peak). Chosen on val by
``python -m benchmarks.example_descriptors`` (embedding, matching) and ``benchmarks.by_example`` (weight).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InstructionError

SIGMA = 0.75  # cells: the reach of a reference point
TEMPERATURE = 0.05  # cosine similarity -> soft nearest neighbours among the references' cells
FLOOR = 1e-3  # p below this is as unlikely as p = 0: log(p + FLOOR)
WEIGHT = 0.67  # the example's share of the fused map


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


def cell_labels(patches, example: Example) -> torch.Tensor:
    """``(P,)`` labels of the reference's grid cells: the mask's coverage, or a Gaussian around the point."""
    geometry, size = patches.geometry, patches.image_size
    p_h, p_w = geometry.grid
    mask = example.load_mask(size)
    if mask is not None:
        labels = torch.from_numpy(geometry.grid_mask(mask, image_size=size)).float().reshape(-1)
        if not labels.sum() > 0:
            raise ExampleError("the example mask covers none of the image the model sees; mark the part")
        return labels
    x, y = example.point
    u, v = (float(c) for c in geometry.to_grid_uv(x, y))
    if not (0 <= u <= p_w and 0 <= v <= p_h):
        raise ExampleError(f"the example point ({x:g}, {y:g}) lies outside the image the model sees")
    cols, rows = torch.arange(p_w) + 0.5, torch.arange(p_h) + 0.5
    squared = (cols[None, :] - u) ** 2 + (rows[:, None] - v) ** 2  # (P_h, P_w)
    return torch.exp(-squared / (2 * SIGMA**2)).reshape(-1)


def transfer(target: torch.Tensor, cells: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(P,)`` probability that each target cell is the part: ``target (P, C)`` embeddings, the references'
    ``cells (R, C)`` (all references' cells stacked) and their ``labels (R,)``."""
    cosine = F.normalize(target, dim=-1) @ F.normalize(cells, dim=-1).T  # (P, R)
    return (cosine / TEMPERATURE).softmax(dim=-1) @ labels


def example_logits(prob: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(H', W')`` logits ``log(p + FLOOR)`` of the ``(P_h, P_w)`` part probabilities, upsampled bilinearly
    to ``size``."""
    logits = (prob + FLOOR).log()[None, None]  # (1, 1, P_h, P_w)
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)[0, 0]


def fuse(pointer_logits: torch.Tensor, examples: torch.Tensor, weight: float = WEIGHT) -> torch.Tensor:
    """``(1 - weight) (L - mean L) + weight std(L) E`` of the pointer's ``(H', W')`` logits ``L`` and the
    examples' ``E`` (:func:`example_logits`): the mix of the standardised pointer map and ``log p``, kept in
    the pointer's logit units so that the fused heatmap is as sharp as the pointer's (weight 0: the pointer's
    heatmap; 1: the examples' peak)."""
    centred = pointer_logits - pointer_logits.mean()
    return (1 - weight) * centred + weight * centred.std().clamp_min(1e-6) * examples


def peak_probability(prob: torch.Tensor, u: float, v: float) -> float:
    """The part probability of the ``(P_h, P_w)`` map at the grid cell of ``(u, v)`` (grid units): what a
    calibration maps to the confidence of a reference's point."""
    row, col = min(int(v), prob.shape[0] - 1), min(int(u), prob.shape[1] - 1)
    return float(prob[row, col])
