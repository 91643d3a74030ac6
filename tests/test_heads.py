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
    SelectionRules,
    aggregate_votes,
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
    unequal[5, 5] = 9.0  # components weighted by their excess mass: the big peak dominates
    assert 0 < spatial_entropy(unequal) < -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert spatial_entropy(np.ones(GRID)) == math.inf  # nothing above the mean


# ---- the reference's rules, case by case, on planted raw attention ----------------------------------


def test_binarise_at_twice_the_mean_above_min_excess():
    attn = np.full(GRID, 0.01)
    attn[0:2, 0:2] = 0.2  # the blob
    attn[4, 4] = 0.015  # above the mean (~0.032)? no: far below -> off under every rule
    attn[3, 0] = 0.05  # above 1x mean, below 2x mean: its own component only with mean factor 1
    mean = attn.mean()
    assert mean < 0.05 < 2 * mean
    assert spatial_entropy(attn) == pytest.approx(0.0)  # one component
    assert spatial_entropy(attn, SelectionRules(mean_factor=1.0)) > 0  # with mean factor 1: two
    faint = np.zeros(GRID)
    faint[0, 0] = 0.5
    faint[5, 5] = (0.0009 + 0.5 / 18) * 18 / 17  # its excess over 2x the mean is 0.0009 <= 0.001: off
    excess = faint - 2 * faint.mean()
    assert excess[5, 5] == pytest.approx(0.0009)
    share = excess[0, 0] / (excess[0, 0] + excess[5, 5])  # one component; its share of the TOTAL excess
    assert spatial_entropy(faint) == pytest.approx(-share * math.log(share))
    with_it_on = SelectionRules(min_excess=0.0)
    assert spatial_entropy(faint, with_it_on) > spatial_entropy(faint)  # two components


def test_mass_probabilities_use_the_total_excess():
    attn = np.zeros(GRID)
    attn[0, 0], attn[5, 5] = 0.3, 0.1
    excess = attn - 2 * attn.mean()
    p = excess[excess > 0] / excess[excess > 0].sum()
    assert spatial_entropy(attn) == pytest.approx(-(p * np.log(p)).sum())


def raw_layers(maps: dict, n_layers=NUM_LAYERS, n_heads=NUM_HEADS, grid=GRID, seed=0):
    """``(n_layers, H, P)`` raw attention: faint noise everywhere, ``maps[(layer, head)]`` planted."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.0, 0.02 / (grid[0] * grid[1]), (n_layers, n_heads, grid[0] * grid[1]))
    for pair, planted in maps.items():
        raw[pair] = np.asarray(planted, dtype=np.float64).ravel()
    return raw


def blob(row, col, mass=0.6, grid=GRID, size=2):
    attn = np.zeros(grid)
    attn[row : row + size, col : col + size] = mass / size**2
    return attn


def test_bottom_row_rule_any_value_above_005():
    near_bottom = blob(1, 1)
    near_bottom[-1, 5] = 0.06  # peak mid-grid, but one last-row cell > 0.05
    raw = raw_layers({(2, 0): near_bottom, (3, 1): blob(2, 2, mass=0.55)})
    scores = score_heads(raw, list(range(NUM_LAYERS)), GRID)
    assert scores.last_row[2, 0] and not scores.last_row[3, 1]
    assert vote_heads(scores, k=2) == [(3, 1)]


def test_fallback_to_top_heads_by_mass_when_none_passes():
    sink = blob(GRID[0] - 2, 0, mass=0.7)  # every strong head is a bottom-row head
    raw = raw_layers({(2, 0): sink, (3, 0): blob(GRID[0] - 2, 3, mass=0.65)})
    raw[4, 2] = raw[4, 2] * 50  # the strongest non-sink head: diffuse but largest mass
    scores = score_heads(raw, list(range(NUM_LAYERS)), GRID)
    assert scores.last_row[2, 0] and scores.last_row[3, 0]
    assert vote_heads(scores, k=3) == [(4, 2)]  # min_keep=1 head, the top by mass
    assert vote_heads(scores, k=3, rules=SelectionRules(min_keep=0)) == []  # no fallback


def test_entropy_ties_go_to_the_shallower_layer():
    raw = raw_layers({(4, 0): blob(1, 1), (2, 5): blob(3, 3), (3, 2): blob(0, 3)})
    scores = score_heads(raw, list(range(NUM_LAYERS)), GRID)
    assert vote_heads(scores, k=3) == [(2, 5), (3, 2), (4, 0)]


def test_votes_counted_as_most_common():
    a, b, c = (2, 0), (3, 1), (4, 2)
    samples = [raw_layers({b: blob(1, 1)}, seed=1), raw_layers({a: blob(1, 1)}, seed=2),
               raw_layers({a: blob(2, 2)}, seed=3),
               raw_layers({b: blob(0, 0), c: blob(3, 3, mass=0.5)}, seed=4)]
    scores = [score_heads(raw, list(range(NUM_LAYERS)), GRID) for raw in samples]
    heads, votes, _ = aggregate_votes(scores, k=1)
    assert votes[a] == votes[b] == 2 and heads == [b]  # tie: b was voted for first (Counter.most_common)
    heads, _, _ = aggregate_votes(scores, k=3)
    assert heads[:2] == [b, a] and heads[2] == c


def test_non_square_grid():
    grid = (4, 7)
    raw = raw_layers({(3, 3): blob(1, 4, grid=grid)}, grid=grid)
    scores = score_heads(raw, list(range(NUM_LAYERS)), grid)
    assert vote_heads(scores, k=1) == [(3, 3)]


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
            planted_mass = {PLANTED[0]: 0.6, PLANTED[1]: 0.55, EARLY: 0.7, SINK: 0.65, WEAK: 0.01}
            mass.append(planted_mass.get(pair, rng.uniform(0.05, 0.1)))
        layers[layer] = SimpleNamespace(attn_last=torch.tensor(np.stack(maps), dtype=torch.float32),
                                        attn_last_mass=torch.tensor(mass))
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
    raw = np.stack([(features.layers[layer].attn_last * features.layers[layer].attn_last_mass[:,
                                                                                              None]).numpy()
                    for layer in layers])
    scores = score_heads(raw, layers, GRID)
    assert scores.last_row[SINK] and not scores.last_row[PLANTED[0]]
    assert scores.mass[WEAK] < scores.threshold <= scores.mass[PLANTED[1]]
    assert scores.entropy[PLANTED[0]] == 0.0 and scores.entropy[WEAK] == math.inf  # WEAK: below the elbow
    assert vote_heads(scores, k=2) == [PLANTED[0], PLANTED[1]]  # ties: shallower layer first
    assert EARLY in vote_heads(scores, k=3, rules=SelectionRules(min_layer=0))


def test_select_heads_finds_planted_heads():
    backbone = FakeBackbone()
    selection = select_heads(backbone, DATASET, k=3, n_samples=8, progress=False)
    assert set(selection.heads[:2]) == set(PLANTED)
    assert selection.votes[PLANTED[0]] == selection.votes[PLANTED[1]] == 8 == selection.n_samples
    assert not {EARLY, SINK, WEAK} & set(selection.heads)
    assert selection.layer == 4 and len(backbone.requested) == 8
    again = HeadSelection.from_json(selection.to_json())
    assert again.heads == selection.heads and again.votes == selection.votes
    assert again.layer == selection.layer


def test_select_heads_restricted_to_one_layer():
    backbone = FakeBackbone()
    selection = select_heads(backbone, DATASET, k=2, n_samples=4, layers=[3], progress=False)
    assert backbone.requested == [[3]] * 4
    assert selection.heads[0] == PLANTED[0] and all(layer == 3 for layer, _ in selection.heads)
    early = select_heads(backbone, DATASET, k=1, n_samples=4, layers=[1], progress=False)
    assert early.heads == [EARLY]  # explicit layers are eligible even when <= 1
    with pytest.raises(LayerError, match="outside"):
        select_heads(backbone, DATASET, layers=[9], progress=False)
