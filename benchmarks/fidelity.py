"""Fidelity to the reference code: head-selection agreement and the attention-pointing hit rate.

Head agreement: on ``fidelity_samples`` SynthParts val samples (seed 1) per backbone, every layer is
captured once; each sample's top-``k`` heads under partpoint's rules are compared with
:func:`reference_picks`, an independent statement of the
per-sample rule of liu-hanyu-97/LocalizationHeads ``analyze.py`` (its quirks included: entropy 0 for a
map with excess but no cell above 0.001, the bottom row tested only above the elbow; on a non-square
grid, where the reference itself fails, the rule is applied on the real grid and the count is given). Agreement = the mean over
samples of ``|ours & reference| / k``; exact = the share of samples whose ordered lists are equal.

Attention pointing: on the same samples, with the bundled pointer's heads, the hit rate of the reference's
rule (raw maps summed, reflect padding). (The earlier ``paper`` head rules and ``mean`` combination were
deleted; their last measured rows are in docs/METHOD.md.)
"""

from __future__ import annotations

import math

import numpy as np

K = 5


def reference_picks(raw: np.ndarray, *, k: int = K, grid: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """The reference's per-sample ranking of ``raw (L, H, P)`` final-token attention. The reference
    reshapes to a ``P x P`` square and fails otherwise; ``grid`` extends it to a ``(P_h, P_w)`` grid
    (the one change, so Qwen-style samples can be compared at all)."""
    from scipy.ndimage import label

    n_layers, n_heads, n_cells = raw.shape
    if grid is None:
        side = int(round(math.sqrt(n_cells)))
        if side * side != n_cells:
            raise ValueError("the reference handles square grids only")
        grid = (side, side)
    sums = raw.sum(-1)  # (L, H)
    ordered = np.sort(sums.ravel())
    xs = np.arange(ordered.size, dtype=np.float64)
    start, line = np.array([xs[0], ordered[0]]), np.array([xs[-1] - xs[0], ordered[-1] - ordered[0]])
    if ordered.size <= 2 or np.linalg.norm(line) == 0:
        threshold = float(ordered[0])
    else:
        unit = line / np.linalg.norm(line)
        vectors = np.stack([xs, ordered], axis=1) - start
        distance = np.linalg.norm(vectors - (vectors @ unit)[:, None] * unit, axis=1)
        threshold = float(ordered[int(np.argmax(distance))])
    rows = []
    for layer in range(n_layers):
        for head in range(n_heads):
            total_sum = float(sums[layer, head])
            entropy, bottom = math.inf, False
            if total_sum >= threshold:
                grid_map = raw[layer, head].reshape(grid)
                excess = np.maximum(grid_map - 2 * grid_map.mean(), 0.0)
                labels, count = label(excess > 0.001, structure=np.ones((3, 3)))
                total = float(excess.sum())
                if total > 0:
                    probs = [excess[labels == i].sum() / total for i in range(1, count + 1)]
                    probs = [p for p in probs if p > 0]
                    entropy = float(-sum(p * np.log(p) for p in probs)) if probs else 0.0
                bottom = bool((grid_map[-1, :] > 0.05).any())
            rows.append((layer, head, total_sum, entropy, bottom))
    kept = [r for r in rows if math.isfinite(r[3]) and r[2] >= threshold and not r[4] and r[0] > 1]
    if len(kept) < 1:
        kept = [r for r in sorted(rows, key=lambda r: r[2], reverse=True) if not r[4]][:1]
    kept.sort(key=lambda r: r[3])
    return [(r[0], r[1]) for r in kept[:k]]


def _raw(features, layers) -> np.ndarray:
    return np.stack([(features.layers[layer].attn_last * features.layers[layer].attn_last_mass[:, None])
                     .float().cpu().numpy() for layer in layers]).astype(np.float64)  # (L, H, P)


def run_fidelity(settings, subjects) -> dict:
    from tqdm.auto import tqdm

    from partpoint.baselines import attention_point
    from partpoint.data import open_dataset
    from partpoint.evaluation import point_hit
    from partpoint.heads import score_heads, vote_heads
    from partpoint.predictor import load_pointer

    from .datasets import evenly, synth_split

    val = evenly(open_dataset(f"{synth_split(settings, 'val', settings.fidelity_scenes)}#2"), settings.fidelity_samples)
    out = {"samples": len(val), "k": K, "dataset": "SynthParts val (seed 1), named-part instructions",
           "backbones": {}}
    for subject in subjects:
        backbone = subject.backbone
        layers = list(range(backbone.num_layers))
        heads = list(load_pointer(backbone, subject.pointer_dir).heads) if subject.pointer_dir else None
        agree, exact, hits, non_square = [], [], [], 0
        for index in tqdm(range(len(val)), desc=f"fidelity {subject.name}", unit="sample"):
            sample = val[index]
            features = backbone.encode(sample.image, sample.instruction, layers=layers)
            raw = _raw(features, layers)
            grid = tuple(features.grid)
            if heads:
                point = attention_point(features, heads)
                hits.append(point_hit(sample.mask, point.x, point.y))
            non_square += grid[0] != grid[1]  # the reference itself would fail here; restated on the real grid
            reference = reference_picks(raw, k=K, grid=grid)
            ours = vote_heads(score_heads(raw, layers, grid), k=K)
            agree.append(len(set(ours) & set(reference)) / max(len(reference), 1))
            exact.append(ours == reference)
        out["backbones"][subject.name] = {
            "scored": len(agree),
            "non_square": non_square,
            "agreement": float(np.mean(agree)) if agree else None,
            "exact": float(np.mean(exact)) if exact else None,
            "attention_heads": [list(h) for h in heads] if heads else None,
            "attention_hit_rate": float(np.mean(hits)) if hits else None,
        }
    return out
