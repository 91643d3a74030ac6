"""Which features describe a reference part for point by example -> ``results/example_descriptors.json``.
Run: ``python -m benchmarks.example_descriptors`` (~6 min on 2 cores) after ``scripts/train_presence.sh`` (its
feature caches hold every descriptor compared here; the bundled pointer reads them).

On the val sets of ``benchmarks.by_example`` (SynthParts val; the Car-Parts and CCP training photos that hash into
``%held10``; ``CAP`` samples each, evenly spaced), one reference per sample (same category,
another image, seed 0, its mask's cell coverage as weights), four descriptors: the vision tower's patch features
(what ``partpoint.example`` uses), the backbone's values or keys at the pointer's layer (the k heads' KV heads,
each L2-normalised, concatenated; the keys are post-RoPE, so they also match positions), and the keys of the
pointer's vision head (the patches projected where its text queries look). Each is scored alone
and fused with the pointer's heatmap at ``WEIGHTS`` (``partpoint.example.fuse``, temperature ``TEMPERATURE``);
``vision+values`` averages the two similarities. Hits are read from the cached masks.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import numpy as np

from .by_example import arg_parser, val_sets
from .datasets import evenly_indices

CAP, WEIGHTS = 200, (0.25, 0.5, 0.75)
KINDS = ("vision", "values", "keys", "vision head", "vision+values")


def parse_args(argv=None):
    p = arg_parser("benchmarks.example_descriptors", __doc__)
    p.add_argument("--cache-dir", default="runs/cache", help="the feature caches of scripts/train_scale.sh and train_presence.sh")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import torch
    import torch.nn.functional as F

    from partpoint.backbones import load_backbone
    from partpoint.data import open_dataset
    from partpoint.example import TEMPERATURE, fuse
    from partpoint.io.atomic import atomic_write_json
    from partpoint.pointer import PartPointer
    from partpoint.pointer.decode import heatmap_peak
    from partpoint.predictor import resolve_pointer_dir
    from partpoint.training.cache import FeatureCache
    from partpoint.training.hits import point_hits
    from partpoint.training.items import FINE_SCALE, make_batch, prepare_items

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    backbone = load_backbone("default-llava", dtype="float32")
    model = PartPointer.from_pretrained(resolve_pointer_dir("default-llava", None)).eval()

    def cells(item, kind: str) -> torch.Tensor:  # (P, C) unit descriptors of the grid cells
        if kind == "vision":
            x = item.vision.float()
        elif kind == "vision head":  # the pointer's vision head's keys: the patches as its text queries see them
            with torch.no_grad():
                x = model.vision_head.keys(model.vision_head.norm(item.vision.float()))
        else:
            heads = (item.v_image if kind == "values" else item.k_image).float()  # (k, P, d)
            x = torch.cat([F.normalize(h, dim=-1) for h in heads], dim=-1)
        return F.normalize(x, dim=-1)

    def hit(item, logits) -> bool:
        peak = heatmap_peak(logits[None], item.geometry.grid)
        return point_hits(item.mask(FINE_SCALE), float(peak.u[0]), float(peak.v[0]))

    out, begin = {}, time.perf_counter()
    for name, spec in val_sets(args.data, args.synth_val).items():
        cache = FeatureCache.build(backbone, open_dataset(spec), heads=list(model.identity.heads),
                                   cache_dir=args.cache_dir, progress=True, vision=True)
        items = prepare_items(cache.entries(), scale=model.config.upsample)[0]
        rng = np.random.default_rng(0)
        by_category = defaultdict(list)
        for j, item in enumerate(items):
            by_category[item.category].append(j)
        rows = defaultdict(list)
        for i in evenly_indices(len(items), CAP):
            item = items[i]
            with torch.no_grad():
                logits = model(make_batch(items, [i])).heatmap[0]  # (H', W')
            rows["text only"].append(hit(item, logits))
            pool = [j for j in by_category[item.category] if items[j].image_id != item.image_id]
            if not pool:  # no reference: a miss, as in benchmarks.by_example
                for key in (f"{kind} {w}" for kind in KINDS for w in (*WEIGHTS, "alone")):
                    rows[key].append(False)
                continue
            reference = items[pool[int(rng.integers(len(pool)))]]
            weights = reference.coverage.float()[:, None]  # (P, 1)
            sims = {kind: (cells(item, kind) @ F.normalize((weights * cells(reference, kind)).sum(0), dim=0))
                    .reshape(item.geometry.grid) for kind in KINDS[:4]}
            sims["vision+values"] = (sims["vision"] + sims["values"]) / 2
            for kind, sim in sims.items():
                shown = F.interpolate((sim / TEMPERATURE)[None, None], size=logits.shape, mode="bilinear",
                                      align_corners=False)[0, 0]
                for w in WEIGHTS:
                    rows[f"{kind} {w}"].append(hit(item, fuse(logits, shown, w)))
                rows[f"{kind} alone"].append(hit(item, shown))
        out[name] = {"spec": spec, "n": len(rows["text only"]),
                     "hit_rate": {key: float(np.mean(v)) for key, v in rows.items()}}
        print(name, json.dumps({k: round(v, 3) for k, v in out[name]["hit_rate"].items()}), flush=True)
    keys = next(iter(out.values()))["hit_rate"]
    mean = {key: float(np.mean([cell["hit_rate"][key] for cell in out.values()])) for key in keys}
    atomic_write_json(args.results / "example_descriptors.json",
                      {"val": out, "mean": mean, "temperature": TEMPERATURE, "cap": CAP,
                       "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                       "wall_s": time.perf_counter() - begin})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
