"""Learning rate and data mix of the scale recipe, chosen on val at reduced scale -> ``results/lr_mix.json``.
Run: ``python -m benchmarks.lr_mix`` (~20 min on 2 cores once the caches of the four whole training sets exist
in ``runs/cache``; building them takes ~40 min). Measured on the recipe before the vision head.

A full run of the scale recipe costs ~80 min here, so the sweep runs on a seeded subset of its cached data
(``SUBSET`` samples per set, taken evenly) for ``EPOCHS`` epochs from scratch, scored on two val sets: SynthParts
val (``--synth-val``) and a *real* val, the Clothing Co-Parsing training photos whose name hashes into the
last ``REAL_VAL_PERCENT`` percent (held out of every run here). Rows: the learning rate at the full mix, then
the mix at the default learning rate (without DoorDetect, whose 10-20 px handles every method misses; SynthParts
only).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .datasets import evenly_records
from .settings import REPO

SUBSET = {"synth": 3000, "carparts": 1000, "ccp": 1500, "doordetect": 1000}
EPOCHS, REAL_VAL_PERCENT, VAL_CAP = 3, 10, 600
LRS = (3e-4, 1e-3, 3e-3)
MIXES = {"all four": ("synth", "carparts", "ccp", "doordetect"), "without DoorDetect": ("synth", "carparts", "ccp"),
         "SynthParts only": ("synth",)}


def reduced_scale_parser(module: str, doc: str) -> argparse.ArgumentParser:
    """The options of a reduced-scale training benchmark (this one, ``benchmarks.vision_head``): where the
    SynthParts splits, the feature caches and the results are (``--data`` is each one's own)."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    p.add_argument("--synth-train", default="runs/scale/synth-train")
    p.add_argument("--synth-val", default="runs/synth/val")
    p.add_argument("--cache-dir", type=Path, default=REPO / "runs/cache")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument("--threads", type=int, default=2)
    return p


def bundled_setup(threads: int, epochs: int):
    """``(backbone, heads, config)``: default-llava in float32, the bundled pointer's heads, and the training
    config of a pointer on them for ``epochs`` epochs (no progress bars)."""
    import torch

    from partpoint.backbones import load_backbone
    from partpoint.heads import read_heads
    from partpoint.predictor import resolve_pointer_dir
    from partpoint.training import TrainConfig

    torch.set_num_threads(threads)
    backbone = load_backbone("default-llava", dtype="float32")
    heads = read_heads(resolve_pointer_dir("default-llava", None) / "heads.json")
    return backbone, heads, TrainConfig.of(progress=False, num_heads=len(heads), epochs=epochs)


def parse_args(argv=None):
    from partpoint.data.paths import SHARED_DATA

    p = reduced_scale_parser("benchmarks.lr_mix", __doc__)
    p.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder (as train_scale.sh)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from partpoint.data import open_dataset
    from partpoint.data.sample import held_out
    from partpoint.io.atomic import atomic_write_json
    from partpoint.pointer import PointerIdentity
    from partpoint.training import fit, pointer_hit_rate, prepare_items
    from partpoint.training.cache import FeatureCache

    args = parse_args(argv)
    backbone, heads, config = bundled_setup(args.threads, EPOCHS)
    scale = config.pointer.upsample

    def items_of(dataset) -> list:  # the scale run's cache (the same specs: nothing is re-encoded)
        cache = FeatureCache.build(backbone, dataset, heads=heads, cache_dir=args.cache_dir, progress=True)
        return cache.entries()

    specs = {"synth": args.synth_train, "carparts": f"carparts:{args.data}/carparts/trainingset",
             "ccp": f"labelmap:{args.data}/ccp/train", "doordetect": f"yolo:{args.data}/doordetect/train:handle"}
    train, real_val = {}, []
    for name, spec in specs.items():
        records = items_of(open_dataset(spec))
        if name == "ccp":
            real_val = [r for r in records if held_out(r.image_id, REAL_VAL_PERCENT)]
            records = [r for r in records if not held_out(r.image_id, REAL_VAL_PERCENT)]
        train[name] = prepare_items(evenly_records(records, SUBSET[name]), scale=scale)[0]
        del records
    real_val = prepare_items(evenly_records(real_val, VAL_CAP), scale=scale)[0]
    synth_val = prepare_items(items_of(open_dataset(args.synth_val)), scale=scale)[0]
    identity = PointerIdentity.of(backbone, heads)
    runs = []

    def run(label: str, mix: tuple[str, ...], lr: float) -> None:
        begin = time.perf_counter()
        items = [item for name in mix for item in train[name]]
        pointer = fit(items, identity=identity, config=config.override(lr=lr)).pointer
        row = {"label": label, "mix": list(mix), "lr": lr, "train_items": len(items),
               "synth_val": pointer_hit_rate(pointer, synth_val), "real_val": pointer_hit_rate(pointer, real_val),
               "wall_s": time.perf_counter() - begin}
        row["mean_val"] = (row["synth_val"] + row["real_val"]) / 2
        runs.append(row)
        print(json.dumps(row), flush=True)

    for lr in LRS:
        run(f"lr {lr:g}", MIXES["all four"], lr)
    for label, mix in MIXES.items():
        if label != "all four":
            run(label, mix, 1e-3)
    atomic_write_json(args.results / "lr_mix.json",
                      {"runs": runs, "epochs": EPOCHS, "subset": SUBSET, "synth_val_n": len(synth_val),
                       "real_val_n": len(real_val), "real_val_percent": REAL_VAL_PERCENT,
                       "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
