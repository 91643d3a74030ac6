"""Localization-head selection over a dataset: every sample votes for its best heads, top-k by votes."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, LayerError
from .criteria import REFERENCE, HeadScores, SelectionRules, score_heads, vote_heads


@dataclass
class HeadSelection:
    """Selected ``heads`` as ``(layer, head)`` pairs, best first; ``votes`` counts every head that got a
    vote; ``mean_entropy`` is each selected head's mean finite spatial entropy over the samples."""

    heads: list[tuple[int, int]]
    votes: dict[tuple[int, int], int] = field(default_factory=dict)
    mean_entropy: dict[tuple[int, int], float] = field(default_factory=dict)
    n_samples: int = 0
    settings: dict = field(default_factory=dict)

    @property
    def layer(self) -> int:
        """The deepest selected layer (the backbone must run up to it)."""
        return max(layer for layer, _ in self.heads)

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _ in self.heads})

    def to_json(self) -> str:
        def pairs(table: dict) -> list:
            return [[layer, head, value] for (layer, head), value in sorted(table.items())]

        return json.dumps(
            {"heads": [list(pair) for pair in self.heads], "votes": pairs(self.votes),
             "mean_entropy": pairs(self.mean_entropy), "n_samples": self.n_samples,
             "settings": self.settings},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> HeadSelection:
        raw = json.loads(text)
        return cls(
            heads=[(int(layer), int(head)) for layer, head in raw["heads"]],
            votes={(int(layer), int(head)): int(v) for layer, head, v in raw.get("votes", [])},
            mean_entropy={(int(layer), int(head)): float(v) for layer, head,
                          v in raw.get("mean_entropy", [])},
            n_samples=int(raw.get("n_samples", 0)),
            settings=dict(raw.get("settings", {})),
        )


def read_heads(source) -> list[tuple[int, int]]:
    """The one heads parser: ``(layer, head)`` pairs from a :class:`HeadSelection`, a list of pairs, or a
    JSON file holding either a HeadSelection (``{"heads": [[l, h], ...], ...}``, what ``partpoint
    select-heads`` writes) or a plain list of pairs.

    Raises:
        CheckpointError: a missing or unreadable file, or something that is not a non-empty list of pairs.
    """
    if isinstance(source, HeadSelection):
        return list(source.heads)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"heads file not found: {path}; write one with `partpoint select-heads`")
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CheckpointError(f"cannot read heads file {path} ({error}); pass the JSON `partpoint "
                                  "select-heads` wrote") from None
        source = raw.get("heads") if isinstance(raw, dict) else raw
    try:
        heads = [(int(layer), int(head)) for layer, head in source]
    except (TypeError, ValueError):
        raise CheckpointError("heads must be [(layer, head), ...] pairs; pass a select-heads JSON or such a "
                              "list") from None
    if not heads:
        raise CheckpointError("no heads given; pass at least one (layer, head) pair or let training select "
                              "them")
    return heads


def _numpy(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().float().cpu().numpy()
    return np.asarray(tensor, dtype=np.float64)


def sample_scores(features, layers: list[int], rules: SelectionRules | None = None) -> HeadScores:
    """Score the heads of ``layers`` on one encoded sample (``Features``), on the raw attention."""
    raw = np.stack([
        _numpy(features.layers[layer].attn_last) * _numpy(features.layers[layer].attn_last_mass)[:, None]
        for layer in layers
    ])  # (n_layers, H, P)
    return score_heads(raw, layers, tuple(features.grid), rules or REFERENCE)


def aggregate_votes(all_scores: list[HeadScores], *, k: int,
                    rules: SelectionRules | None = None) -> tuple[list[tuple[int, int]], Counter, dict]:
    """Top-``k`` heads over samples by votes; equal counts by first appearance (``Counter.most_common``).

    Heads with no vote (in layers ``>= rules.min_layer``) only fill the list when fewer than ``k`` got votes:
    the least often bottom-row heads first, then by lower mean entropy, then the shallower layer.
    """
    rules = rules or REFERENCE
    votes: Counter = Counter()
    for scores in all_scores:
        votes.update(vote_heads(scores, k=k, rules=rules))
    stacked = np.stack([s.entropy for s in all_scores])  # (S, n_layers, H)
    finite = np.isfinite(stacked)
    mean_entropy = np.where(finite, stacked, 0.0).sum(0) / np.maximum(finite.sum(0), 1)
    mean_entropy[finite.sum(0) == 0] = np.inf
    layers = all_scores[0].layers
    entropy_of = {(layer, head): float(mean_entropy[row, head]) for row,
                  layer in enumerate(layers) for head in range(stacked.shape[-1])}
    sink_rate = np.mean([s.last_row for s in all_scores], axis=0)  # (n_layers, H)
    sink_of = {(layer, head): float(sink_rate[row, head]) for row, layer in enumerate(layers)
               for head in range(stacked.shape[-1])}
    voted = [pair for pair, _ in votes.most_common()]
    rest = sorted((pair for pair in entropy_of if pair[0] >= rules.min_layer and pair not in votes),
                  key=lambda pair: (sink_of[pair], entropy_of[pair], pair[0], pair[1]))
    heads = (voted + rest)[:k]
    return heads, votes, {pair: entropy_of[pair] for pair in heads}


def select_heads(backbone, dataset, *, k: int = 5, n_samples: int = 32, layers: list[int] | None = None,
                 rules: SelectionRules | None = None, seed: int = 0, progress: bool = True) -> HeadSelection:
    """Select ``k`` localization heads of ``backbone`` on up to ``n_samples`` samples of ``dataset``.

    Args:
        backbone: has ``num_layers`` and ``encode(image, text, layers=[...]) -> Features`` whose layers
            give ``attn_last (H, P)`` and ``attn_last_mass (H,)``.
        dataset: ``len(dataset)`` and ``dataset[i]`` with ``.image`` and ``.instruction``.
        layers: layers to consider; ``None`` = all, with layers ``< rules.min_layer`` excluded. Explicit
            layers (e.g. ``[l]`` to pick every head from one layer) are all eligible.
        rules: :class:`SelectionRules` (default :data:`REFERENCE`, the authors' public code).
        seed: picks which samples are used when the dataset is larger than ``n_samples``.
    """
    num_layers = int(backbone.num_layers)
    rules = rules or REFERENCE
    if layers is None:
        layers, eligible_from = list(range(num_layers)), rules.min_layer
    else:
        layers, eligible_from = sorted({int(layer) for layer in layers}), 0
        bad = [layer for layer in layers if not 0 <= layer < num_layers]
        if bad or not layers:
            raise LayerError(f"layers {bad or layers} are outside the backbone's 0..{num_layers - 1}; pick "
                             "valid layers")
    rules = replace(rules, min_layer=eligible_from)
    if max(layers) < eligible_from:
        raise LayerError(f"no layer >= {eligible_from} to select from; the backbone has {num_layers} layers")
    if len(dataset) == 0:
        raise ValueError("head selection needs a non-empty dataset")
    count = min(n_samples, len(dataset))
    indices = sorted(np.random.default_rng(seed).choice(len(dataset), size=count, replace=False).tolist())

    from tqdm.auto import tqdm

    all_scores = []
    for index in tqdm(indices, desc="selecting heads", disable=not progress):
        sample = dataset[index]
        features = backbone.encode(sample.image, sample.instruction, layers=layers)
        all_scores.append(sample_scores(features, layers, rules))
    heads, votes, entropy = aggregate_votes(all_scores, k=k, rules=rules)
    settings = {"k": k, "layers": layers, "seed": seed, "rules": rules.to_json()}
    return HeadSelection(heads=heads, votes=dict(votes), mean_entropy=entropy, n_samples=count,
                         settings=settings)
