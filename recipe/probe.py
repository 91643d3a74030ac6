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
    from partpoint.losses.bce import part_cells

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
    """Probe hit rates per LM layer (image-token keys) on ``scenes`` (``HeldoutScene`` list) + baselines."""
    from tqdm import tqdm

    keys = {layer: [] for layer in layers}
    per_scene = []
    for scene in tqdm(scenes, desc="key probe", disable=not progress):
        feats = backbone.encode(scene.image(), NEUTRAL_TEXT, layers=layers)
        for layer in layers:
            k = feats.layers[layer].k_image.float()  # (H_kv, P, d)
            keys[layer].append(k.permute(1, 0, 2).reshape(k.shape[1], -1).numpy().astype(np.float64))  # (P, H_kv d)
        per_scene.append(_scene_items(feats, scene))
    rows = [{"layer": layer, **_ridge_probe(keys[layer], per_scene, alpha=alpha)} for layer in layers]
    return {"layers": rows, **_probe_context(per_scene, tuple(feats.grid)), "text": NEUTRAL_TEXT, "alpha": alpha}


def vision_probe(backbone, scenes, *, alpha: float = 10.0, progress: bool = True) -> dict:
    """The same probe on the vision tower's patch features (LLaVA only): each hidden state and the final
    layer norm's output, to choose ``vision_feature_layer`` by measurement."""
    import torch
    from tqdm import tqdm

    from partpoint.backbones.features import Features

    tower = backbone.model.model.vision_tower
    per_scene, by_layer = [], {}
    for scene in tqdm(scenes, desc="vision probe", disable=not progress):
        image = scene.image()
        inputs, (geometry,) = backbone.prepare_inputs([image], [NEUTRAL_TEXT])
        with torch.no_grad():
            out = tower(inputs["pixel_values"], output_hidden_states=True)
        states = {f"hidden_states[{i - len(out.hidden_states)}]": h for i, h in enumerate(out.hidden_states)
                  if i >= len(out.hidden_states) - 4}
        states["after final layer norm"] = out.last_hidden_state
        for name, h in states.items():
            by_layer.setdefault(name, []).append(h[0, 1:].float().numpy().astype(np.float64))  # CLS dropped
        per_scene.append(_scene_items(Features(layers={}, geometry=geometry, image_size=image.size), scene))
    rows = [{"layer": name, **_ridge_probe(x, per_scene, alpha=alpha)} for name, x in by_layer.items()]
    return {"layers": rows, **_probe_context(per_scene, tuple(geometry.grid)), "alpha": alpha}


def _probe_context(per_scene, grid) -> dict:
    """Items, classes and the baselines (foreground-uniform, centre, chance) on the scoring scenes."""
    fit = range(0, len(per_scene), 2)
    classes = {c for i in fit for c, _, _ in per_scene[i][0]}
    centre = (grid[0] // 2) * grid[1] + grid[1] // 2
    baselines = {"foreground_uniform": [], "centre": [], "chance": []}
    for items, foreground in per_scene[1::2]:
        for cls, cells, _single in items:
            if cls in classes:
                baselines["foreground_uniform"].append(cells.sum() / max(1, (foreground | cells).sum()))
                baselines["centre"].append(float(cells[centre]))
                baselines["chance"].append(cells.mean())
    return {"n_fit_scenes": len(fit), "n_items": len(baselines["chance"]), "classes": len(classes),
            "grid": list(grid), "baselines": {name: float(np.mean(v)) for name, v in baselines.items()}}


def _ridge_probe(x_per_scene: list[np.ndarray], per_scene, *, alpha: float) -> dict:
    """Fit one-vs-rest ridge per class on even scenes, argmax-patch hit rate on odd scenes."""
    fit, score = range(0, len(per_scene), 2), range(1, len(per_scene), 2)
    classes = sorted({c for i in fit for c, _, _ in per_scene[i][0]})
    index = {c: j for j, c in enumerate(classes)}
    x_fit = np.concatenate([x_per_scene[i] for i in fit])  # (N, F)
    mean, std = x_fit.mean(0), x_fit.std(0) + 1e-6
    x_fit = (x_fit - mean) / std
    y_fit = np.zeros((x_fit.shape[0], len(classes)))
    row = 0
    for i in fit:
        n = x_per_scene[i].shape[0]
        for cls, cells, _ in per_scene[i][0]:
            y_fit[row:row + n, index[cls]] = np.maximum(y_fit[row:row + n, index[cls]], cells)
        row += n
    x1 = np.concatenate([x_fit, np.ones((x_fit.shape[0], 1))], axis=1)
    weights = np.linalg.solve(x1.T @ x1 + alpha * np.eye(x1.shape[1]), x1.T @ y_fit)  # (F + 1, C)
    hits, single_hits = [], []
    for i in score:
        x = (x_per_scene[i] - mean) / std
        scores = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1) @ weights  # (P, C)
        for cls, cells, single in per_scene[i][0]:
            if cls not in index:
                continue
            hit = bool(cells[int(scores[:, index[cls]].argmax())])
            hits.append(hit)
            if single:
                single_hits.append(hit)
    return {"hit_rate": float(np.mean(hits)),
            "single_instance_hit_rate": float(np.mean(single_hits)) if single_hits else None}
