"""Confidence a robot can act on -> ``results/confidence.json``, ``docs/reliability.png``. Run:
``python -m benchmarks.confidence`` (~25 min on 2 cores) after the bundled pointer is calibrated.

For the bundled default-llava pointer (given a presence head and calibrated on SynthParts val and held-out
training photos by ``scripts/train_presence.sh``) on test splits it never saw in training or calibration:

- **calibration**: ECE (15 bins) of ``PointResult.confidence`` against hits, and the reliability bins;
- **"not in the image"**: each cell's images also get ``NEGATIVES[cell]`` negatives per image
  (``partpoint.data.negatives``, seed 0): absent AUROC of ``presence`` (samples vs negatives), the
  false-point rate (negatives called present) and the missed rate (samples called absent);
- **several instances**: SynthParts test groups (one per scene and object:part; "Point to the handle of every
  mug.") answered by ``Pointer.point_all``, scored one to one (Hungarian) and by PointArena's rule; its
  ``peak_share`` (a further peak's confidence against the first's) chosen first by F1 on SynthParts val groups
  among ``PEAK_SHARES`` (``predictor.PEAK_SHARE`` should be the chosen one).

``--compare LABEL=DIR`` (repeatable): the same for other calibrated pointers (calibrated the same way), on
SynthParts test and InstructPart named: what each stage changed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .datasets import evenly
from .settings import REPO

SCENES, SEED = 200, 1234  # SynthParts test: ~2,900 samples, so that the ECE's sampling floor is ~0.02
NEGATIVES = {"synth_test": 4, "carparts_test": 4, "ccp_test": 4, "instructpart_named": 1,
             "instructpart_reason": 1}
CAP = {"ccp_test": 200}  # samples (evenly spaced) of the real test splits kept short; Car-Parts: all 811
PEAK_SHARES = (0.25, 0.5, 0.75, 1.01)  # 1.01: the first peak alone


def cells(data: Path, synth: Path) -> dict[str, str]:
    return {"synth_test": str(synth), "carparts_test": f"carparts:{data}/carparts/testset",
            "ccp_test": f"labelmap:{data}/ccp/test#direct",
            "instructpart_named": f"instructpart:{data}/instructpart-dev#2",
            "instructpart_reason": f"instructpart:{data}/instructpart-dev#0,1"}


def parse_args(argv=None):
    from partpoint.data.paths import SHARED_DATA

    p = argparse.ArgumentParser(prog="python -m benchmarks.confidence", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    p.add_argument("--pointer", default=None, help="pointer directory (default: the bundled one)")
    p.add_argument("--compare", action="append", default=[], metavar="LABEL=DIR",
                   help="another calibrated pointer to score on SynthParts test and InstructPart named")
    p.add_argument("--synth-test", type=Path, default=Path(f"runs/synth/test{SCENES}"))  # run from the repo root
    p.add_argument("--synth-val", default="runs/synth/val", help="SynthParts val (the peak share is chosen there)")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument("--docs", type=Path, default=REPO / "docs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--instances-only", action="store_true",
                   help="redo only the peak-share choice and the several-instances scores of an existing "
                        "results/confidence.json (the rest is kept)")
    return p.parse_args(argv)


def summary_of(result) -> dict:
    keep = ("n", "hit_rate", "ece", "ece_interval", "ece_floor", "reliability", "missed_present_rate", "negatives",
            "absent_auroc", "false_point_rate")
    return {key: value for key, value in result.summary().items() if key in keep}


def peak_share_sweep(backbone, pointer_dir, val_spec: str) -> dict:
    """F1 of ``point_all`` on SynthParts val instance groups for each of ``PEAK_SHARES`` (each group's peaks
    are computed once, with every present peak kept, then filtered by each share)."""
    from partpoint.data import open_dataset
    from partpoint.evaluation.instances import instance_groups, instance_scores
    from partpoint.evaluation.metrics import match_points
    from partpoint.predictor import confident_peaks, load_pointer

    pointer = load_pointer(backbone, pointer_dir)
    pointer.peak_share = 0.0
    rows = {share: [] for share in PEAK_SHARES}
    for group in instance_groups(open_dataset(val_spec)):
        image, masks = group.load()
        found = pointer.point_all(image, group.instruction)
        for share in PEAK_SHARES:
            kept = [(p.x, p.y) for p in confident_peaks(found, share)]
            rows[share].append({"instances": len(masks), "points": kept, "matched": match_points(kept, masks),
                                "pointarena_hit": False})
    scores = {str(share): {k: v for k, v in instance_scores(r).items() if k != "pointarena_hit_rate"}
              for share, r in rows.items()}
    chosen = max(PEAK_SHARES, key=lambda share: scores[str(share)]["f1"])
    print("peak share", {k: round(v["f1"], 3) for k, v in scores.items()}, "->", chosen, flush=True)
    return {"data": val_spec, "scores": scores, "chosen": chosen}


def run_pointer(backbone, pointer_dir, specs: dict[str, str], *, instances_from=None,
                peak_share: float | None = None) -> dict:
    from partpoint.data import open_dataset
    from partpoint.evaluation import evaluate
    from partpoint.evaluation.instances import evaluate_instances, instance_groups
    from partpoint.predictor import load_pointer

    pointer = load_pointer(backbone, pointer_dir)
    if pointer.model.calibration is None:
        raise SystemExit(f"pointer {pointer_dir or 'bundled'} has no calibration; run partpoint calibrate")
    out = {"calibration": pointer.model.calibration.fitted, "threshold": pointer.model.calibration.threshold,
           "cells": {}}
    for name, spec in specs.items():
        dataset = open_dataset(spec)
        dataset = evenly(dataset, CAP[name]) if name in CAP else dataset
        begin = time.perf_counter()
        result = evaluate("ours", backbone=backbone, dataset=dataset, pointer=pointer.model, progress=True,
                          negatives=NEGATIVES[name])
        out["cells"][name] = {"spec": spec, **summary_of(result), "wall_s": time.perf_counter() - begin}
        print(name, {k: v for k, v in out["cells"][name].items() if k != "reliability"}, flush=True)
    if instances_from is not None:
        if peak_share is not None:
            pointer.peak_share = peak_share
        scores = evaluate_instances(pointer, instance_groups(open_dataset(instances_from)), max_points=None)
        out["instances"] = {"spec": instances_from, "all": scores["all"], "several": scores["several"]}
        print("instances", out["instances"], flush=True)
    return out


def main(argv=None) -> int:
    import subprocess

    import torch

    from partpoint.backbones import load_backbone
    from partpoint.commands import main as cli
    from partpoint.io.atomic import atomic_write_json
    from partpoint.io.viz import reliability_figure

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not (args.synth_test / "instructpart_test.json").is_file():
        cli(["synth", "--out", str(args.synth_test), "--split", "test", "--n", str(SCENES), "--seed", str(SEED),
             "--quiet"])
    specs = cells(args.data, args.synth_test)
    backbone = load_backbone("default-llava", dtype="float32")
    sweep = peak_share_sweep(backbone, args.pointer, args.synth_val)
    if args.instances_only:
        results = json.loads((args.results / "confidence.json").read_text())
        only = run_pointer(backbone, args.pointer, {}, instances_from=str(args.synth_test),
                           peak_share=sweep["chosen"])
        results["ours"]["instances"], results["peak_share"] = only["instances"], sweep
        results["run"]["instances_date_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        atomic_write_json(args.results / "confidence.json", results)
        return 0
    results = {"ours": run_pointer(backbone, args.pointer, specs, instances_from=str(args.synth_test),
                                   peak_share=sweep["chosen"]), "peak_share": sweep}
    if args.compare or not (args.results / "confidence.json").is_file():
        results["compare"] = {}
    else:  # no --compare: the earlier rows stay, with the run that measured them
        earlier = json.loads((args.results / "confidence.json").read_text())
        results["compare"] = earlier.get("compare", {})
        results["compare_run"] = earlier.get("compare_run", earlier["run"])
    for item in args.compare:
        label, _, directory = item.partition("=")
        results["compare"][label] = run_pointer(backbone, directory,
                                                {k: specs[k] for k in ("synth_test", "instructpart_named")})
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    results["run"] = {"git_commit": commit, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                      "synth_test": {"scenes": SCENES, "seed": SEED}, "negatives_per_image": NEGATIVES, "cap": CAP}
    atomic_write_json(args.results / "confidence.json", results)
    curves = {name: cell["reliability"] for name, cell in results["ours"]["cells"].items()
              if name in ("synth_test", "carparts_test", "ccp_test")}
    reliability_figure(curves, args.docs / "reliability.png",
                       title="Calibrated confidence on test splits (default-llava)")
    print(json.dumps({name: {k: cell.get(k) for k in ("hit_rate", "ece", "ece_floor", "absent_auroc",
                                                       "false_point_rate", "missed_present_rate")}
                      for name, cell in results["ours"]["cells"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
