"""Per-sample criteria of localization-head selection (Kang et al., CVPR 2025), pure functions.

For one sample, on each head's RAW final-token attention over the image tokens (``attn_last`` times
``attn_last_mass``; never renormalised, since the thresholds below are absolute):

1. Attention mass: the map's sum. Heads below the elbow of the sorted masses (chord rule: the point
   farthest from the line joining the first and last point) are dropped.
2. Spatial entropy: binarise ``relu(A - c * mean(A)) > min_excess``, label 8-connected components,
   entropy of the component probabilities (each component's excess mass over the map's total excess,
   or its cell count); low entropy = one compact blob.
3. Exclusions: layers ``< min_layer`` and "bottom-row" heads (an attention-sink pattern).
4. When fewer than ``min_keep`` heads survive, the heads with the largest mass (bottom-row heads
   excluded, any layer: the reference does not apply the layer rule here) take their place. The survivors are
   ranked by entropy; ties go to the shallower layer.

:data:`REFERENCE` states the rules of the authors' public code (liu-hanyu-97/LocalizationHeads,
``analyze.py`` and its ``selection_best.yaml``). Two differences from it are deliberate: any ``P_h x P_w``
grid works (the reference reshapes to a square ``P x P`` and
fails on Qwen-style non-square grids), a map with excess but no cell above ``min_excess`` has
infinite entropy (no blob, so not a localization head) where the reference gives it entropy 0, and the
fallback never takes a bottom-row head (the reference tests the bottom row only above the mass elbow,
so its fallback can pick a low-mass sink). ``benchmarks/fidelity.py`` measures the agreement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import label

EIGHT_CONNECTED = np.ones((3, 3), dtype=int)


@dataclass(frozen=True)
class SelectionRules:
    """How one sample's heads are scored (the reference code's settings).

    mean_factor: binarisation threshold in multiples of the map's mean.
    min_excess: a cell is on when its excess over ``mean_factor * mean`` is above this (raw attention);
        component probabilities are each component's share of the excess attention.
    bottom_row_value: a head with any last-row cell above this is an attention sink.
    min_keep: fewer survivors than this and the top heads by mass fill in (0: no fallback).
    min_layer: layers below it never vote (layers 0-1 attend to everything).
    """

    mean_factor: float = 2.0
    min_excess: float = 0.001
    bottom_row_value: float = 0.05
    min_keep: int = 1
    min_layer: int = 2

    def to_json(self) -> dict:
        return asdict(self)


REFERENCE = SelectionRules()


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


def spatial_entropy(attn_map: np.ndarray, rules: SelectionRules = REFERENCE) -> float:
    """Spatial entropy of a raw ``(P_h, P_w)`` attention map; ``inf`` when no cell is on."""
    attn_map = np.asarray(attn_map, dtype=np.float64)
    excess = np.maximum(attn_map - rules.mean_factor * attn_map.mean(), 0.0)
    labels, count = label(excess > rules.min_excess, structure=EIGHT_CONNECTED)
    if count == 0:
        return float("inf")
    ids = np.arange(1,
                    # each component's excess over the map's TOTAL excess (cells under min_excess too)
                    count + 1)
    probs = np.bincount(labels.ravel(), weights=excess.ravel(), minlength=count + 1)[ids] / excess.sum()
    probs = probs[probs > 0]
    return float(-(probs * np.log(probs)).sum())


@dataclass
class HeadScores:
    """Criteria of every head of the scored layers for one sample; arrays are ``(n_layers, H)``."""

    layers: list[int]
    mass: np.ndarray
    entropy: np.ndarray
    last_row: np.ndarray
    threshold: float


def score_heads(raw_maps: np.ndarray, layers: list[int], grid: tuple[int, int],
                rules: SelectionRules = REFERENCE) -> HeadScores:
    """Score every head of one sample.

    Args:
        raw_maps: ``(n_layers, H, P)`` final-token RAW attention over the image tokens.
        layers: the layer index of each row.
        grid: ``(P_h, P_w)``, any shape.
    """
    raw_maps = np.asarray(raw_maps, dtype=np.float64)
    n_layers, n_heads, _ = raw_maps.shape
    maps = raw_maps.reshape(n_layers, n_heads, *grid)  # (n_layers, H, P_h, P_w)
    mass = raw_maps.sum(-1)  # (n_layers, H)
    threshold = elbow_threshold(mass)
    entropy = np.full((n_layers, n_heads), np.inf)
    for row, col in zip(*np.nonzero(mass >= threshold)):  # entropy only where the mass passes
        entropy[row, col] = spatial_entropy(maps[row, col], rules)
    last_row = (maps[:, :, -1, :] > rules.bottom_row_value).any(-1)
    return HeadScores(layers=list(layers), mass=mass, entropy=entropy, last_row=last_row, threshold=threshold)


def vote_heads(scores: HeadScores, *, k: int, rules: SelectionRules = REFERENCE) -> list[tuple[int, int]]:
    """One sample's ballot: up to ``k`` heads by the rules (module docstring, steps 1-4)."""
    layer_ids = np.array(scores.layers)[:, None].repeat(scores.mass.shape[1], axis=1)  # (n_layers, H)
    allowed = (layer_ids >= rules.min_layer) & ~scores.last_row
    eligible = allowed & (scores.mass >= scores.threshold) & np.isfinite(scores.entropy)
    rows, heads = np.nonzero(eligible)
    if rows.size < rules.min_keep:  # fallback: the largest masses, any layer (as the reference)
        rows, heads = np.nonzero(~scores.last_row)
        top = np.argsort(-scores.mass[rows, heads], kind="stable")[: rules.min_keep]
        rows, heads = rows[top], heads[top]
    order = np.lexsort((heads, layer_ids[rows, heads],
                        scores.entropy[rows, heads]))  # entropy, shallower, head
    return [(int(layer_ids[rows[i], heads[i]]), int(heads[i])) for i in order[:k]]
