"""Grid size: default-llava at 224 px (16 x 16 = 256 image tokens) against 336 px (24 x 24 = 576, LLaVA-1.5's
count) on the same pointer recipe and val split -> ``results/grid_size.json``. Run: ``python -m
benchmarks.grid_size`` (~25 min on 2 cores).

The 336 px backbone is default-llava with its image processor set to 336 x 336 (DINOv2 interpolates its
position embeddings); the projector is NOT re-aligned at 336, the pointer heads are the bundled ones. Each size
trains the defaults of ``partpoint train`` (10 epochs) on ``TRAIN_SCENES`` SynthParts train scenes (seed 0) and
is scored on ``VAL_SCENES`` val scenes (seed 1) by the cached hit test; caching throughput and the median
``Pointer.point`` latency on val images are measured on the same machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from .settings import REPO

TRAIN_SCENES, VAL_SCENES, LATENCY_RUNS = 200, 60, 12


def variant(size: int, work: Path) -> str:
    """default-llava (224) or a copy of its assembled folder whose processor makes ``size`` px inputs."""
    from partpoint.backbones.defaults import assembled_dir

    if size == 224:
        return "default-llava"
    folder = work / f"default-llava-{size}"
    if not (folder / "config.json").is_file():
        shutil.copytree(assembled_dir("default-llava"), folder, dirs_exist_ok=True)
        processor = json.loads((folder / "processor_config.json").read_text())
        processor["image_processor"]["size"] = processor["image_processor"]["crop_size"] = {"height": size,
                                                                                             "width": size}
        (folder / "processor_config.json").write_text(json.dumps(processor, indent=2))
        config = json.loads((folder / "config.json").read_text())
        config["image_seq_length"] = (size // 14) ** 2  # also makes the fingerprint differ from 224's
        (folder / "config.json").write_text(json.dumps(config, indent=2))
    return str(folder)


def measure(size: int, work: Path, train_spec: str, val_spec: str) -> dict:
    import torch

    from partpoint.backbones import load_backbone
    from partpoint.data import open_dataset
    from partpoint.heads.selection import read_heads
    from partpoint.pointer import PointerIdentity
    from partpoint.predictor import Pointer, resolve_pointer_dir
    from partpoint.training import TrainConfig, fit, prepare_items
    from partpoint.training.cache import FeatureCache

    backbone = load_backbone(variant(size, work), dtype="float32")
    heads = read_heads(resolve_pointer_dir("default-llava", None) / "heads.json")
    config = TrainConfig.of(num_heads=len(heads))
    out = {"size": size, "grid": None}
    items = {}
    for split, spec in (("train", train_spec), ("val", val_spec)):
        dataset = open_dataset(spec)
        begin = time.perf_counter()
        cache = FeatureCache.build(backbone, dataset, heads=heads, cache_dir=work / "cache", progress=True)
        out[f"{split}_caching_s"] = time.perf_counter() - begin
        out[f"{split}_samples"] = len(dataset)
        items[split] = prepare_items(cache.entries(), scale=config.pointer.upsample)[0]
    out["grid"] = list(items["val"][0].grid)
    torch.manual_seed(0)
    result = fit(items["train"], identity=PointerIdentity.of(backbone, heads), config=config,
                 val_items=items["val"], out_dir=work / f"pointer-{size}")
    out["epochs"] = [{"epoch": e["epoch"], "val_hit_rate": e["val_hit_rate"]} for e in result.log["epochs"]]
    out["best"], out["train_wall_s"] = result.log["best"], result.log["wall_s"]
    pointer = Pointer(backbone=backbone, model=result.pointer)
    val = open_dataset(val_spec)
    samples = [val[i] for i in range(0, len(val), max(1, len(val) // (LATENCY_RUNS + 2)))][: LATENCY_RUNS + 2]
    times = []
    for i, sample in enumerate(samples):
        begin = time.perf_counter()
        pointer.point(sample.image, sample.instruction)
        if i >= 2:  # two warm-up calls
            times.append(time.perf_counter() - begin)
    out["point_median_s"] = statistics.median(times)
    return out


def main(argv=None) -> int:
    import torch

    from partpoint.data.synth import generate_split
    from partpoint.io.atomic import atomic_write_text

    p = argparse.ArgumentParser(prog="python -m benchmarks.grid_size", description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=REPO / "runs/grid")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 336])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = {}
    for split, scenes, seed in (("train", TRAIN_SCENES, 0), ("val", VAL_SCENES, 1)):
        folder = args.work / f"synth-{split}"
        if not (folder / f"instructpart_{split}.json").is_file():
            generate_split(str(folder), split=split, n=scenes, seed=seed, workers=1, progress=False)
        specs[split] = str(folder)
    runs = [measure(size, args.work, specs["train"], specs["val"]) for size in args.sizes]
    result = {"train_scenes": TRAIN_SCENES, "val_scenes": VAL_SCENES, "threads": args.threads, "runs": runs}
    args.results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results / "grid_size.json", json.dumps(result, indent=2))
    if (args.results / "machine.json").is_file():  # docs/RESULTS.md shows this part beside the last make bench
        from .report import write_report

        write_report(args.results, REPO / "docs" / "RESULTS.md")
    for run in runs:
        print(f"{run['size']} px {run['grid']}: best val {run['best']}, caching {run['train_samples']} samples "
              f"{run['train_caching_s']:.0f} s, point() {1000 * run['point_median_s']:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
