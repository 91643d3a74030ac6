"""Do the LM's image keys tell parts apart? A per-``object:part`` linear probe on held-out scenes.

Every scene is encoded once (a neutral instruction: image keys do not depend on text that comes after
the image) and the image-token keys of each captured layer are taken per patch, one copy per KV
head concatenated (``(P, H_kv * d)``). One ridge regression per ``category:part`` class (one-vs-rest,
standardised features) is fitted on the even-indexed scenes; on the odd-indexed scenes each object
instance's part is "found" at the argmax patch of its class's score map, and the probe hits when that
patch is a part cell (``evaluation``'s patch rule: coverage >= 0.5, or the best-covered cell of a
part smaller than a cell). The probe sees no text, so it cannot tell two instances of one category
apart: the rate on single-instance items is reported as well.

Baselines on the same items: ``foreground_uniform`` (a map spread evenly over every object's
patches: part cells / foreground cells), ``centre`` (the middle patch) and ``chance``.
"""

from __future__ import annotations

import numpy as np

NEUTRAL_TEXT = "Describe the image."


def _scene_items(feats, scene):
    """[(class, part cells (P,), single-instance?)] and the foreground cells (P,) of one scene."""
    from ..evaluate import part_cells

    objects = scene.graph["objects"]
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj["category"]] = counts.get(obj["category"], 0) + 1
    foreground = (feats.grid_mask(scene.scene.instance_map >= 0) >= 0.5).reshape(-1)
    items = []
    for instance, obj in enumerate(objects):
        for part in obj.get("_big_parts") or [p for p, area in obj["part_areas"].items() if area > 0]:
            mask = scene.scene.part_mask(instance, part)
            if not mask.any():
                continue
            cells = part_cells(feats.grid_mask(mask)).reshape(-1)
            items.append((f"{obj['category']}:{part}", cells, counts[obj["category"]] == 1))
    return items, foreground


def key_probe(backbone, scenes, *, layers: list[int], alpha: float = 10.0, progress: bool = True) -> dict:
    """Probe hit rates per layer on ``scenes`` (``HeldoutScene`` list) plus the baselines."""
    from tqdm import tqdm

    n_rep = backbone.num_heads // backbone.num_kv_heads
    keys = {layer: [] for layer in layers}
    per_scene = []
    for scene in tqdm(scenes, desc="key probe", disable=not progress):
        feats = backbone.encode(scene.image(), NEUTRAL_TEXT, layers=layers)
        for layer in layers:
            k = feats.layers[layer].k_image[:, ::n_rep].float()  # (P, H_kv, d): one copy per KV head
            keys[layer].append(k.reshape(k.shape[0], -1).numpy().astype(np.float64))
        per_scene.append(_scene_items(feats, scene))
    grid = tuple(feats.grid)
    fit = [i for i in range(len(scenes)) if i % 2 == 0]
    score = [i for i in range(len(scenes)) if i % 2 == 1]
    classes = sorted({c for i in fit for c, _, _ in per_scene[i][0]})
    index = {c: j for j, c in enumerate(classes)}
    centre = (grid[0] // 2) * grid[1] + grid[1] // 2

    baselines = {"foreground_uniform": [], "centre": [], "chance": []}
    for i in score:
        items, foreground = per_scene[i]
        for cls, cells, _single in items:
            if cls in index:
                baselines["foreground_uniform"].append(cells.sum() / max(1, (foreground | cells).sum()))
                baselines["centre"].append(float(cells[centre]))
                baselines["chance"].append(cells.mean())

    rows = []
    for layer in layers:
        x_fit = np.concatenate([keys[layer][i] for i in fit])  # (N, F)
        mean, std = x_fit.mean(0), x_fit.std(0) + 1e-6
        x_fit = (x_fit - mean) / std
        y_fit = np.zeros((x_fit.shape[0], len(classes)))
        row = 0
        for i in fit:
            items, _ = per_scene[i]
            n = keys[layer][i].shape[0]
            for cls, cells, _ in items:
                y_fit[row:row + n, index[cls]] = np.maximum(y_fit[row:row + n, index[cls]], cells)
            row += n
        x1 = np.concatenate([x_fit, np.ones((x_fit.shape[0], 1))], axis=1)
        weights = np.linalg.solve(x1.T @ x1 + alpha * np.eye(x1.shape[1]), x1.T @ y_fit)  # (F + 1, C)
        hits, single_hits = [], []
        for i in score:
            items, _ = per_scene[i]
            x = (keys[layer][i] - mean) / std
            scores = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1) @ weights  # (P, C)
            for cls, cells, single in items:
                if cls not in index:
                    continue
                hit = bool(cells[int(scores[:, index[cls]].argmax())])
                hits.append(hit)
                if single:
                    single_hits.append(hit)
        rows.append({"layer": layer, "hit_rate": float(np.mean(hits)),
                     "single_instance_hit_rate": float(np.mean(single_hits)) if single_hits else None})
    return {
        "layers": rows,
        "n_fit_scenes": len(fit),
        "n_items": len(baselines["chance"]),
        "classes": len(classes),
        "grid": list(grid),
        "baselines": {name: float(np.mean(v)) for name, v in baselines.items()},
        "text": NEUTRAL_TEXT,
        "alpha": alpha,
    }
