"""Per-sample criteria of localization-head selection (Kang et al., CVPR 2025), pure functions.

1. Attention mass: the final prompt token's raw attention sum over image tokens per head; heads
   whose mass is below the elbow of the sorted masses (chord / kneedle rule) are dropped.
2. Spatial entropy of the head's attention map on the grid: binarise at ``mean_factor * mean``
   (``relu(A - c mean) > 0``), label 8-connected components, entropy of the component-size
   distribution; low entropy = one compact blob.
3. Exclusions: layers ``< min_layer`` and heads whose argmax lies in the last grid row
   (a known attention-sink pattern).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import label

EIGHT_CONNECTED = np.ones((3, 3), dtype=int)


def elbow_threshold(values: np.ndarray) -> float:
    """Value at the elbow of ``values`` sorted ascending: the point farthest from the chord joining
    the first and last points (both axes as they are: index and value). Fewer than 3 values, or
    all equal: the minimum (keeps everything)."""
    ys = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if ys.size < 3 or ys[-1] == ys[0]:
        return float(ys[0]) if ys.size else 0.0
    xs = np.arange(ys.size, dtype=np.float64)
    chord = np.array([xs[-1] - xs[0], ys[-1] - ys[0]])
    chord /= np.linalg.norm(chord)
    offsets = np.stack([xs - xs[0], ys - ys[0]], axis=1)  # (n, 2)
    distance = np.abs(offsets[:, 0] * chord[1] - offsets[:, 1] * chord[0])  # |cross product|
    return float(ys[int(np.argmax(distance))])


def spatial_entropy(attn_map: np.ndarray, *, mean_factor: float = 1.0, weighting: str = "size") -> float:
    """Spatial entropy of a ``(P_h, P_w)`` attention map; ``inf`` when nothing exceeds the threshold.

    Args:
        mean_factor: binarisation threshold in multiples of the map's mean (the paper: 1; the
            authors' public code uses 2).
        weighting: component probabilities by ``"size"`` (cell count, the paper) or ``"mass"``
            (attention above the threshold, the public code).
    """
    attn_map = np.asarray(attn_map, dtype=np.float64)
    excess = np.maximum(attn_map - mean_factor * attn_map.mean(), 0.0)
    labels, count = label(excess > 0, structure=EIGHT_CONNECTED)
    if count == 0:
        return float("inf")
    ids = np.arange(1, count + 1)
    if weighting == "size":
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[ids].astype(np.float64)
    elif weighting == "mass":
        sizes = np.bincount(labels.ravel(), weights=excess.ravel(), minlength=count + 1)[ids]
    else:
        raise ValueError(f"weighting must be 'size' or 'mass', got {weighting!r}")
    probs = sizes / sizes.sum()
    return float(-(probs * np.log(probs)).sum())


@dataclass
class HeadScores:
    """Criteria of every head of the scored layers for one sample; arrays are ``(n_layers, H)``."""

    layers: list[int]
    mass: np.ndarray
    entropy: np.ndarray
    last_row: np.ndarray
    threshold: float


def score_heads(
    attn_maps: np.ndarray,
    mass: np.ndarray,
    layers: list[int],
    grid: tuple[int, int],
    *,
    mean_factor: float = 1.0,
    weighting: str = "size",
) -> HeadScores:
    """Score every head of one sample.

    Args:
        attn_maps: ``(n_layers, H, P)`` final-token attention over image tokens (any normalisation;
            the entropy is invariant to scale).
        mass: ``(n_layers, H)`` raw attention mass on image tokens (before renormalising).
        layers: the layer index of each row.
        grid: ``(P_h, P_w)``.
    """
    attn_maps = np.asarray(attn_maps, dtype=np.float64)
    n_layers, n_heads, _ = attn_maps.shape
    maps = attn_maps.reshape(n_layers, n_heads, *grid)  # (n_layers, H, P_h, P_w)
    entropy = np.array(
        [[spatial_entropy(m, mean_factor=mean_factor, weighting=weighting) for m in row] for row in maps]
    )
    peak_rows = attn_maps.argmax(axis=-1) // grid[1]  # (n_layers, H)
    mass = np.asarray(mass, dtype=np.float64).reshape(n_layers, n_heads)
    return HeadScores(
        layers=list(layers),
        mass=mass,
        entropy=entropy,
        last_row=peak_rows == grid[0] - 1,
        threshold=elbow_threshold(mass),
    )


def vote_heads(scores: HeadScores, *, k: int, min_layer: int = 2) -> list[tuple[int, int]]:
    """One sample's ballot: up to ``k`` heads with the lowest spatial entropy among the heads whose
    mass reaches the elbow threshold, excluding layers ``< min_layer`` and last-row heads."""
    layer_ids = np.array(scores.layers)[:, None].repeat(scores.mass.shape[1], axis=1)  # (n_layers, H)
    eligible = (
        (scores.mass >= scores.threshold)
        & (layer_ids >= min_layer)
        & ~scores.last_row
        & np.isfinite(scores.entropy)
    )
    rows, heads = np.nonzero(eligible)
    order = np.lexsort((-layer_ids[rows, heads], scores.entropy[rows, heads]))  # entropy, then deeper first
    return [(int(layer_ids[rows[i], heads[i]]), int(heads[i])) for i in order[:k]]
