"""Localization-head selection: elbow, spatial entropy, exclusions, votes on planted attention."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from partpoint.errors import LayerError
from partpoint.heads import (
    HeadSelection,
    elbow_threshold,
    score_heads,
    select_heads,
    spatial_entropy,
    vote_heads,
)

GRID = (6, 6)
NUM_LAYERS, NUM_HEADS = 5, 6
PLANTED = [(3, 2), (4, 5)]
EARLY = (1, 0)  # compact and strong, but layer <= 1
SINK = (2, 1)  # compact and strong, but fixated on the last row
WEAK = (2, 3)  # compact, but little attention mass on the image


def test_elbow_on_known_curve():
    values = [6.1, 0.3, 0.1, 6.0, 0.4, 0.2]  # sorted: 0.1 0.2 0.3 0.4 | 6.0 6.1
    assert elbow_threshold(values) == pytest.approx(0.4)
    assert elbow_threshold([2.0, 2.0, 2.0]) == 2.0  # flat: keep all
    assert elbow_threshold([5.0, 1.0]) == 1.0


def test_spatial_entropy_counts_components():
    one_blob = np.zeros(GRID)
    one_blob[1:3, 1:3] = 1.0
    assert spatial_entropy(one_blob) == pytest.approx(0.0)
    two_blobs = one_blob.copy()
    two_blobs[4:6, 3:5] = 1.0
    assert spatial_entropy(two_blobs) == pytest.approx(math.log(2))
    diagonal = np.zeros(GRID)
    diagonal[1, 1] = diagonal[2, 2] = 1.0  # 8-connected: one component
    assert spatial_entropy(diagonal) == pytest.approx(0.0)
    unequal = np.zeros(GRID)
    unequal[0, 0:3] = 1.0
    unequal[5, 5] = 9.0
    assert spatial_entropy(unequal) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert spatial_entropy(unequal, weighting="mass") < spatial_entropy(
        unequal
    )  # mass: the big peak dominates
    assert spatial_entropy(np.ones(GRID)) == math.inf  # nothing above the mean


def blob_map(rng, row, col) -> np.ndarray:
    attn = rng.uniform(0.0, 0.01, GRID)
    attn[row : row + 2, col : col + 2] += 1.0
    return (attn / attn.sum()).ravel()


def planted_features(seed: int):
    """Every head's final-token attention; planted/early/sink/weak heads are compact blobs."""
    rng = np.random.default_rng(seed)
    row, col = rng.integers(0, GRID[0] - 2), rng.integers(0, GRID[1] - 2)
    layers = {}
    for layer in range(NUM_LAYERS):
        maps, mass = [], []
        for head in range(NUM_HEADS):
            pair = (layer, head)
            if pair in (*PLANTED, EARLY, WEAK):
                maps.append(blob_map(rng, row, col))
            elif pair == SINK:
                maps.append(blob_map(rng, GRID[0] - 1, col))
            else:
                noise = rng.uniform(0, 1, GRID[0] * GRID[1])
                maps.append(noise / noise.sum())
            mass.append(
                {PLANTED[0]: 0.6, PLANTED[1]: 0.55, EARLY: 0.7, SINK: 0.65, WEAK: 0.01}.get(
                    pair, rng.uniform(0.05, 0.1)
                )
            )
        layers[layer] = SimpleNamespace(
            attn_last=torch.tensor(np.stack(maps), dtype=torch.float32), attn_last_mass=torch.tensor(mass)
        )
    return SimpleNamespace(layers=layers, grid=GRID)


class FakeBackbone:
    num_layers, num_heads, head_dim = NUM_LAYERS, NUM_HEADS, 8

    def __init__(self):
        self.requested = []

    def encode(self, image, text, layers):
        self.requested.append(list(layers))
        features = planted_features(seed=image)
        features.layers = {layer: features.layers[layer] for layer in layers}
        return features


DATASET = [SimpleNamespace(image=i, instruction=f"point to part {i}") for i in range(12)]


def test_per_sample_scores_and_vote():
    features = planted_features(seed=0)
    layers = list(range(NUM_LAYERS))
    maps = np.stack([features.layers[layer].attn_last.numpy() for layer in layers])
    mass = np.stack([features.layers[layer].attn_last_mass.numpy() for layer in layers])
    scores = score_heads(maps, mass, layers, GRID)
    assert scores.last_row[SINK] and not scores.last_row[PLANTED[0]]
    assert scores.mass[WEAK] < scores.threshold <= scores.mass[PLANTED[1]]
    assert scores.entropy[PLANTED[0]] == 0.0 and scores.entropy[0, 1] > 0.1  # noise head: several blobs
    assert vote_heads(scores, k=2) == [PLANTED[1], PLANTED[0]]  # ties: deeper layer first
    assert EARLY in vote_heads(scores, k=3, min_layer=0)


def test_select_heads_finds_planted_heads():
    backbone = FakeBackbone()
    selection = select_heads(backbone, DATASET, k=3, n_samples=8, progress=False)
    assert set(selection.heads[:2]) == set(PLANTED)
    assert selection.votes[PLANTED[0]] == selection.votes[PLANTED[1]] == 8 == selection.n_samples
    assert not {EARLY, SINK, WEAK} & set(selection.heads)
    assert selection.layer == 4 and len(backbone.requested) == 8
    again = HeadSelection.from_json(selection.to_json())
    assert (
        again.heads == selection.heads and again.votes == selection.votes and again.layer == selection.layer
    )


def test_select_heads_restricted_to_one_layer():
    backbone = FakeBackbone()
    selection = select_heads(backbone, DATASET, k=2, n_samples=4, layers=[3], progress=False)
    assert backbone.requested == [[3]] * 4
    assert selection.heads[0] == PLANTED[0] and all(layer == 3 for layer, _ in selection.heads)
    early = select_heads(backbone, DATASET, k=1, n_samples=4, layers=[1], progress=False)
    assert early.heads == [EARLY]  # explicit layers are eligible even when <= 1
    with pytest.raises(LayerError, match="outside"):
        select_heads(backbone, DATASET, layers=[9], progress=False)
