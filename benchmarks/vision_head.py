"""Does a vision head help the pointer? -> ``results/vision_head.json``. Run: ``python -m benchmarks.vision_head``
(~7 min on 2 cores) after ``scripts/train_scale.sh`` and ``train_presence.sh`` (their caches in ``runs/cache`` hold
the vision patches; missing ones are built, ~30 min).

Most misses of the pointer without it land on another part or object, which the vision tower's patch features
tell apart (docs/METHOD.md, section 4b). The comparison runs at reduced scale, like ``benchmarks.lr_mix``: an
evenly spaced subset of the training caches (SynthParts train, Car-Parts train, CCP train, less the 10% of each
set's images held out by name hash), ``EPOCHS`` epochs from scratch at the scale recipe's learning rate, scored on
SynthParts val and on the held-out Car-Parts and CCP photos (never trained on here). Rows: the heads alone, then
with the vision head. (The full-scale run is ``scripts/train_scale.sh``; its log is in ``checkpoints/scale``.)
"""

from __future__ import annotations

import json
import time

from .datasets import evenly_records
from .lr_mix import bundled_setup, reduced_scale_parser

SUBSET = {"synth": 3000, "carparts": 1000, "ccp": 1500}
EPOCHS, HOLD_OUT, VAL_CAP = 3, 10, 600
VARIANTS = {"the k heads alone": {}, "+ vision head": {"vision_head": True}}


def parse_args(argv=None):
    p = reduced_scale_parser("benchmarks.vision_head", __doc__)
    p.add_argument("--data", default="../shared/data",
                   help="the shared data folder, spelled as scripts/train_presence.sh does (the held-out "
                        "images are chosen by a hash of the path as given)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every SUBSET size by this")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from partpoint.data import open_dataset
    from partpoint.io.atomic import atomic_write_json
    from partpoint.pointer import PointerIdentity
    from partpoint.training import fit, pointer_hit_rate, prepare_items
    from partpoint.training.cache import FeatureCache

    args = parse_args(argv)
    backbone, heads, config = bundled_setup(args.threads, args.epochs)
    scale = config.pointer.upsample

    def subset(dataset, cap: int) -> list:
        cache = FeatureCache.build(backbone, dataset, heads=heads, cache_dir=args.cache_dir, progress=True,
                                   vision=True)
        return prepare_items(evenly_records(cache.entries(), cap), scale=scale)[0]

    specs = {"synth": args.synth_train, "carparts": f"carparts:{args.data}/carparts/trainingset",
             "ccp": f"labelmap:{args.data}/ccp/train"}
    train, val = {}, {"SynthParts val": subset(open_dataset(args.synth_val), VAL_CAP)}
    for name, spec in specs.items():
        kept, held = open_dataset(spec).hold_out(HOLD_OUT)
        train[name] = subset(kept, round(SUBSET[name] * args.scale))
        if name != "synth":
            val[f"{name} held out"] = subset(held, VAL_CAP)
    items = [item for name in specs for item in train[name]]
    identity = PointerIdentity.of(backbone, heads)
    runs = []
    for label in args.variants:
        begin = time.perf_counter()
        pointer = fit(items, identity=identity, config=config.override(**VARIANTS[label])).pointer
        row = {"label": label, "settings": VARIANTS[label], "train_items": len(items),
               "val": {name: pointer_hit_rate(pointer, data) for name, data in val.items()},
               "wall_s": time.perf_counter() - begin}
        row["mean_val"] = sum(row["val"].values()) / len(row["val"])
        runs.append(row)
        print(json.dumps(row), flush=True)
    atomic_write_json(args.results / "vision_head.json",
                      {"runs": runs, "epochs": args.epochs, "subset": {k: len(v) for k, v in train.items()},
                       "val_n": {name: len(data) for name, data in val.items()}, "hold_out_percent": HOLD_OUT,
                       "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
