"""Native attention peaks: where the final prompt token's attention argmax lands, per layer and head.

For each target (a scene, an object instance, one of its parts, and a text asking about that part),
the backbone encodes the text with every layer captured; the peak of ``attn_last[h]`` (the final
prompt token's attention over the image grid, per head) is a grid cell. Each cell is classed with
the grid coverage of the scene's exact masks (``Features.grid_mask``, 4 x 4 sub-samples per cell):

- asked part: ``losses.bce.part_cells`` (coverage >= 0.5, else the max-coverage cell(s) for a part
  smaller than a cell), the same rule as the pointer evaluation's patch accuracy;
- object: the asked object's coverage >= 0.5, or an asked-part cell;
- sibling: an object cell that is not an asked-part cell (another part of the same object);
- foreground: any object's coverage >= 0.5, or an object cell.

Baselines per target: ``chance`` = part cells / all cells (a uniformly random peak),
``sibling_chance`` = sibling cells / all cells, ``foreground_uniform`` = part cells / foreground
cells (a head that lands uniformly on any object patch: the note's "foreground" scaling) and
``object_uniform`` = part cells / object cells (one that finds the right object but not the part).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVERAGE = 0.5


@dataclass(frozen=True)
class PeakTarget:
    """A text about ``part`` of object ``instance`` in held-out scene ``scene`` (index into the scene list)."""

    scene: int
    instance: int
    part: str
    text: str
    source: str  # "part_color" (the VQA question) or "direct" (a pointing instruction)


@dataclass
class PeakRecords:
    """Per-target hit tables: ``*_hit`` are (N, num_layers, H) bool; baselines and ``scene`` are (N,)."""

    part_hit: np.ndarray
    sibling_hit: np.ndarray
    object_hit: np.ndarray
    foreground_hit: np.ndarray
    chance: np.ndarray
    sibling_chance: np.ndarray
    foreground_uniform: np.ndarray
    object_uniform: np.ndarray
    scene: np.ndarray


def cell_classes(feats, scene, instance: int, part: str) -> dict[str, np.ndarray]:
    """(P,) bool cells of the asked part, its object, its siblings and the foreground (module docstring)."""
    from partpoint.losses.bce import part_cells

    part_cell = part_cells(feats.grid_mask(scene.part_mask(instance, part))).reshape(-1)  # (P,)
    obj = (feats.grid_mask(scene.object_mask(instance)) >= COVERAGE).reshape(-1) | part_cell  # (P,)
    fg = (feats.grid_mask(scene.instance_map >= 0) >= COVERAGE).reshape(-1) | obj  # (P,)
    return {"part": part_cell, "object": obj, "sibling": obj & ~part_cell, "foreground": fg}


def peak_records(backbone, scenes, targets: list[PeakTarget], *, batch_size: int = 8,
                 progress: bool = True) -> PeakRecords:
    """Encode every target with all layers captured and class each (layer, head) peak cell."""
    import torch
    from tqdm import tqdm

    layers = list(range(backbone.num_layers))
    rows: dict[str, list] = {name: [] for name in PeakRecords.__dataclass_fields__}
    for start in tqdm(range(0, len(targets), batch_size), desc="attention peaks", disable=not progress):
        batch = targets[start:start + batch_size]
        images = [scenes[t.scene].image() for t in batch]
        feats_list = backbone.encode_batch(images, [t.text for t in batch], layers=layers)
        for target, feats in zip(batch, feats_list):
            attn = torch.stack([feats.layers[layer].attn_last for layer in layers])  # (num_layers, H, P)
            peak = attn.argmax(-1).numpy()  # (num_layers, H)
            cells = cell_classes(feats, scenes[target.scene].scene, target.instance, target.part)
            for name in ("part", "sibling", "object", "foreground"):
                rows[f"{name}_hit"].append(cells[name][peak])  # (num_layers, H)
            n_part, n_cells = cells["part"].sum(), cells["part"].size
            rows["chance"].append(n_part / n_cells)
            rows["sibling_chance"].append(cells["sibling"].sum() / n_cells)
            rows["foreground_uniform"].append(n_part / max(1, cells["foreground"].sum()))
            rows["object_uniform"].append(n_part / max(1, cells["object"].sum()))
            rows["scene"].append(target.scene)
    return PeakRecords(**{name: np.asarray(values) for name, values in rows.items()})


def _head_metrics(records: PeakRecords, rows: np.ndarray, layer: int, head: int) -> dict:
    part = records.part_hit[rows, layer, head]
    obj = records.object_hit[rows, layer, head]
    return {
        "part": float(part.mean()),
        "sibling": float(records.sibling_hit[rows, layer, head].mean()),
        "object": float(obj.mean()),
        "foreground": float(records.foreground_hit[rows, layer, head].mean()),
        "part_share_of_object_hits": float(part.sum() / obj.sum()) if obj.any() else None,
    }


def summarize_peaks(records: PeakRecords) -> dict:
    """Heads chosen on even-indexed scenes (half A), every rate reported on odd-indexed scenes (half B).

    Returns ``{"n_select", "n_report", "per_layer": [...], "best": {...}, "baselines": {...}}``; per
    layer, ``best_head`` is the head with the highest asked-part hit rate on half A.
    """
    select = np.flatnonzero(records.scene % 2 == 0)
    report = np.flatnonzero(records.scene % 2 == 1)
    if len(select) == 0 or len(report) == 0:
        from partpoint.errors import DataError

        raise DataError("the attention analysis needs targets in both scene halves; pass more scenes")
    select_rates = records.part_hit[select].mean(0)  # (num_layers, H)
    per_layer = []
    for layer in range(select_rates.shape[0]):
        head = int(select_rates[layer].argmax())
        per_layer.append({
            "layer": layer,
            "best_head": head,
            "select_part": float(select_rates[layer, head]),
            **_head_metrics(records, report, layer, head),
            "mean_heads_part": float(records.part_hit[report, layer].mean()),
            "mean_heads_sibling": float(records.sibling_hit[report, layer].mean()),
        })
    layer, head = np.unravel_index(int(select_rates.argmax()), select_rates.shape)
    best = {"layer": int(layer), "head": int(head), "select_part": float(select_rates[layer, head]),
            **_head_metrics(records, report, int(layer), int(head))}
    baselines = {name: float(getattr(records, name)[report].mean())
                 for name in ("chance", "sibling_chance", "foreground_uniform", "object_uniform")}
    return {"n_select": int(len(select)), "n_report": int(len(report)), "per_layer": per_layer, "best": best,
            "baselines": baselines}
