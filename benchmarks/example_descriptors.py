"""Which cell features and which matching find a reference part for point by example ->
``results/example_descriptors.json``. Run: ``python -m benchmarks.example_descriptors`` (~1 min on 2 cores) after
``scripts/train_presence.sh`` (its feature caches hold every feature compared here; the bundled pointer reads them).

On the val sets of ``benchmarks.by_example`` (SynthParts val; the Car-Parts and CCP training photos that hash into
``%held10``; ``CAP`` samples each, evenly spaced), one reference per sample (same category, another image,
seed 0; its mask's cell coverage as labels), three cell features: the vision tower's patches, the backbone's keys
at the pointer's layer (the k heads' KV heads, each L2-normalised, concatenated; post-RoPE, so they also match
positions) and the keys of the pointer's vision head (``PartPointer.cell_embedding``: the patches projected where
its text queries look); two matchings: cosine to the mean of the part's cells (a descriptor) and soft nearest
neighbours over all the reference's cells carrying their labels (``partpoint.example.transfer``). Each alone and
fused with the pointer's heatmap at ``partpoint.example.WEIGHT`` (``fuse``); for the used variant (vision head,
transfer) also how often only the reference alone or only the instruction alone hits (a fusion's headroom). Hits
are read from the cached masks.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import numpy as np

from .by_example import arg_parser, val_sets
from .datasets import evenly_indices

CAP = 300
KINDS = ("vision", "keys", "vision head")
MATCHINGS = ("mean", "transfer")


def parse_args(argv=None):
    p = arg_parser("benchmarks.example_descriptors", __doc__)
    p.add_argument("--cache-dir", default="runs/cache", help="the feature caches of scripts/train_scale.sh and train_presence.sh")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import torch
    import torch.nn.functional as F

    from partpoint.backbones import load_backbone
    from partpoint.data import open_dataset
    from partpoint.example import FLOOR, TEMPERATURE, WEIGHT, example_logits, fuse, transfer
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

    def cells(item, kind: str) -> torch.Tensor:  # (P, C) unit features of the grid cells
        if kind == "vision":
            x = item.vision.float()
        elif kind == "vision head":
            with torch.no_grad():
                x = model.cell_embedding(item.vision.float())
        else:
            x = torch.cat([F.normalize(h, dim=-1) for h in item.k_image.float()], dim=-1)  # (P, k d)
        return F.normalize(x, dim=-1)

    def probability(item, reference, kind: str, matching: str) -> torch.Tensor:  # (P_h, P_w) in [0, 1]
        target, cells_, labels = cells(item, kind), cells(reference, kind), reference.coverage.float()
        if matching == "transfer":
            prob = transfer(target, cells_, labels)
        else:  # the cosine to the part's mean, mapped to (0, 1] as transfer's probabilities are
            prob = ((target @ F.normalize((labels[:, None] * cells_).sum(0), dim=0) - 1) / TEMPERATURE).exp()
        return prob.reshape(item.geometry.grid)

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
            variants = [f"{kind} {matching}" for kind in KINDS for matching in MATCHINGS]
            if not pool:  # no reference: a miss, as in benchmarks.by_example
                for variant in variants:
                    rows[f"{variant} alone"].append(False)
                    rows[f"{variant} fused"].append(False)
                continue
            reference = items[pool[int(rng.integers(len(pool)))]]
            for kind in KINDS:
                for matching in MATCHINGS:
                    shown = example_logits(probability(item, reference, kind, matching), logits.shape)
                    rows[f"{kind} {matching} alone"].append(hit(item, shown))
                    rows[f"{kind} {matching} fused"].append(hit(item, fuse(logits, shown, WEIGHT)))
        text, alone = np.array(rows["text only"]), np.array(rows["vision head transfer alone"])  # the method's
        rows["only the reference hits"], rows["only the instruction hits"] = alone & ~text, text & ~alone
        out[name] = {"spec": spec, "n": len(rows["text only"]),
                     "hit_rate": {key: float(np.mean(v)) for key, v in rows.items()}}
        print(name, json.dumps({k: round(v, 3) for k, v in out[name]["hit_rate"].items()}), flush=True)
    keys = next(iter(out.values()))["hit_rate"]
    mean = {key: float(np.mean([cell["hit_rate"][key] for cell in out.values()])) for key in keys}
    atomic_write_json(args.results / "example_descriptors.json",
                      {"val": out, "mean": mean, "temperature": TEMPERATURE, "floor": FLOOR, "weight": WEIGHT,
                       "cap": CAP,
                       "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                       "wall_s": time.perf_counter() - begin})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
