"""Ablations on one backbone (default-llava): components, number of heads k, and tau / gamma / lambda.

All variants train from ONE feature cache of the top-``k_max`` heads (a k < k_max run keeps the first k
heads by votes), with the same budget (``ablation_train_samples`` SynthParts train samples, seed 0,
``ablation_epochs`` epochs), and are scored on SynthParts val (seed 1) -- never the test split -- by the
cached hit test (heatmap peak inside the part mask sampled 8 x 8 per grid cell).
"""

from __future__ import annotations

import math

from .datasets import evenly, synth_split

SCENE_SAMPLES = 15  # a SynthParts scene gives 5 records x 3 instructions (0, 1, 2)
TAUS, GAMMAS, LAMS = (1.0, 4.0), (2.0, 8.0), (0.5, 2.0)


def variants(k_max: int) -> list[tuple[str, str, dict, int]]:
    """``(name, group, TrainConfig overrides, k)`` for every run; ``full`` is the reference."""
    runs = [("full", "components", {}, k_max),
            ("without V_v", "components", {"use_values": False}, k_max),
            ("without A2P", "components", {"use_a2p": False}, k_max),
            ("without Q-Synth", "components", {"use_qsynth": False}, k_max),
            ("without SDF", "components", {"use_sdf": False}, k_max),
            ("BCE only (argmax of A_s)", "components", {"use_a2p": False, "lam": 0.0}, k_max)]
    runs += [(f"k={k}", "heads", {}, k) for k in (1, 3, 5, 7) if k < k_max]
    runs += [(f"tau={v:g}", "tau", {"tau": v}, k_max) for v in TAUS]
    runs += [(f"gamma={v:g}", "gamma", {"gamma": v}, k_max) for v in GAMMAS]
    runs += [(f"lambda={v:g}", "lambda", {"lam": v}, k_max) for v in LAMS]
    runs += [(name, "against the centre hedge", overrides, k_max) for name, overrides in HEDGE_FIXES]
    return runs


#: The paper's loss and decoder (no option against the centre hedge), and the options one at a time on
#: top of it. The defaults (TrainConfig) are all of them together, chosen on these val runs.
PAPER = {"sdf_cap": None, "detach_attn": False, "a2p_residual": False, "padding": "zeros", "inside_slope": 0.0}
HEDGE_FIXES = (
    ("paper loss and decoder (no fix)", PAPER),
    ("penalty capped at 1 patch", {**PAPER, "sdf_cap": 1.0}),
    ("penalty capped at 3 patches", {**PAPER, "sdf_cap": 3.0}),
    ("A_s detached into A2P", {**PAPER, "detach_attn": True}),
    ("A2P residual on log mean A_s, replicate pad", {**PAPER, "a2p_residual": True, "padding": "replicate"}),
    ("inside slope 0.1", {**PAPER, "inside_slope": 0.1}),
    ("all fixes, lambda=0.1 (the defaults, lambda 0.1)", {"lam": 0.1}),
)


def ablation_data(settings):
    """Capped SynthParts train (seed 0) and val (seed 1) datasets."""
    from partpoint.data import open_dataset

    train_scenes = math.ceil(settings.ablation_train_samples / SCENE_SAMPLES)
    val_scenes = math.ceil(settings.ablation_val_samples / SCENE_SAMPLES)
    train = evenly(open_dataset(str(synth_split(settings, "train", train_scenes))), settings.ablation_train_samples)
    val = evenly(open_dataset(str(synth_split(settings, "val", val_scenes))), settings.ablation_val_samples)
    return train, val


def run_ablations(settings, subject) -> dict:
    """Train every variant of :func:`variants` and score it on val -> the ``results/ablations.json`` object."""
    import torch
    from tqdm.auto import tqdm

    from partpoint.heads import select_heads
    from partpoint.pointer import PointerIdentity
    from partpoint.training import (
        TrainConfig,
        attention_points,
        fit,
        hit_rate,
        mean_outside_distance,
        pointer_points,
        prepare_items,
    )
    from partpoint.training.cache import FeatureCache

    backbone = subject.backbone
    train, val = ablation_data(settings)
    selection = select_heads(backbone, train, k=settings.ablation_k_max, n_samples=settings.ablation_select_samples,
                             seed=0, progress=False)
    heads = list(selection.heads)
    cache_dir = settings.work_dir / "ablation-cache"
    train_records, val_records = (FeatureCache.build(backbone, ds, heads=heads, cache_dir=cache_dir,
                                                     progress=True).entries() for ds in (train, val))
    base = TrainConfig.of(progress=False, epochs=settings.ablation_epochs, batch_size=settings.ablation_batch_size,
                          num_heads=len(heads))
    prepared: dict[int, tuple[list, list]] = {}
    runs = []
    chosen = [v for v in variants(len(heads)) if settings.ablation_groups is None or v[1] in settings.ablation_groups]
    for name, group, overrides, k in tqdm(chosen, desc="ablations", unit="run"):
        config = base.override(**overrides)
        scale = config.pointer.upsample
        if scale not in prepared:
            prepared[scale] = (prepare_items(train_records, scale=scale)[0], prepare_items(val_records, scale=scale)[0])
        train_items, val_items = ([item.heads(k) for item in items] for items in prepared[scale])
        torch.manual_seed(0)
        result = fit(train_items, identity=PointerIdentity.of(backbone, heads[:k]), config=config)
        points = pointer_points(result.pointer, val_items)
        epochs = result.log["epochs"]
        runs.append({"name": name, "group": group, "k": k, "overrides": overrides,
                     "val_hit_rate": hit_rate(val_items, points),
                     "val_outside_distance": mean_outside_distance(val_items, points), "n_val": len(val_items),
                     "final_loss": epochs[-1]["loss"], "steps": epochs[-1]["steps"], "wall_s": result.log["wall_s"]})
    full_val = prepare_items(val_records, scale=1)[0]
    centres = [(item.grid[1] / 2, item.grid[0] / 2) for item in full_val]
    attention = {k: attention_points([item.heads(k) for item in full_val]) for k in sorted({run["k"] for run in runs})}
    return {
        "backbone": subject.name,
        "heads": [list(h) for h in heads],
        "votes": {f"{layer},{head}": int(selection.votes.get((layer, head), 0)) for layer, head in heads}
        if isinstance(selection.votes, dict) else None,
        "train_samples": len(train_records), "val_samples": len(val_records),
        "epochs": settings.ablation_epochs, "batch_size": settings.ablation_batch_size,
        "groups": list(settings.ablation_groups) if settings.ablation_groups else "all",
        "defaults": {"tau": base.loss.tau, "gamma": base.loss.gamma, "lam": base.loss.lam},
        "attention_val_hit_rate": {k: hit_rate(full_val, points) for k, points in attention.items()},
        "attention_val_outside_distance": {k: mean_outside_distance(full_val, points)
                                           for k, points in attention.items()},
        "centre_val": {"hit_rate": hit_rate(full_val, centres),
                       "outside_distance": mean_outside_distance(full_val, centres)},
        "runs": runs,
    }
