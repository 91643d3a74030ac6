"""Point by example -> ``results/by_example.json``. Run: ``python -m benchmarks.by_example`` (~30 min on 2 cores),
after ``scripts/eval_targets.sh`` (whose attention-pointing rows on the same samples it reads beside its own).

1. The fusion weight, chosen on three **val** sets (``VAL_CAP`` samples each, evenly spaced; 1 reference each from
   the same set): SynthParts val and the Car-Parts and CCP training photos whose path hashes into the last 10%
   (``%held10`` of ``--data``'s spelling, ``../shared/data`` as ``scripts/train_scale.sh``: the photos that neither
   the pointer nor its presence head trained on). The examples'
   share of the fused log-heatmap in ``WEIGHTS``; the best mean over the sets is reported (and is
   ``example.WEIGHT``). The temperature needs no sweep of its own: the fused argmax depends on the weight and
   the temperature only through ``weight / (temperature (1 - weight))`` (``partpoint.example``).
2. Test cells as ``scripts/eval_targets.sh`` has them (Car-Parts test, CCP test, DoorDetect test: first 200;
   InstructPart dev named): ``--method example`` with K = 1 and 3 references of the same object:part from the
   same split (never the target's image; seed 0), fused with the instruction at the chosen weight, beside ours
   (the instruction alone) on the same samples. A sample with no possible reference is a miss of the example
   method; the rates over the samples that have one (``with_reference``) compare the two where both can run.
   Also with 1 reference: alone (no instruction: weight 1) and marked by one click at its mask's innermost
   pixel instead of the mask (fused), as a person would mark it. Where the points carry a calibrated
   confidence (the instruction's calibration, or for a reference alone the calibration's ``example`` map), its
   ECE, the ECE floor of those confidences and the AUROC of confidence for hits.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .datasets import evenly
from .settings import REPO

WEIGHTS = (0.5, 0.67, 0.8)
VAL_CAP, TEST_CAP = 200, 200
SHOTS = (1, 3)


def val_sets(data: Path, synth_val: str) -> dict[str, str]:
    return {"synth_val": synth_val, "carparts_held": f"carparts:{data}/carparts/trainingset%held10",
            "ccp_held": f"labelmap:{data}/ccp/train#direct%held10"}


def cells(data: Path) -> dict[str, str]:
    """The cells of ``scripts/eval_targets.sh`` that have more than one image per object:part."""
    return {"carparts_test": f"carparts:{data}/carparts/testset", "ccp_test": f"labelmap:{data}/ccp/test#direct",
            "doordetect_test": f"yolo:{data}/doordetect/test:handle#direct",
            "instructpart_named": f"instructpart:{data}/instructpart-dev#2"}


def arg_parser(module: str, doc: str) -> argparse.ArgumentParser:
    """The options of a point-by-example benchmark (this one, ``benchmarks.example_descriptors``): where the
    data, the val sets (:func:`val_sets`) and the results are."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"),
                   help="the shared data folder, spelled as scripts/train_scale.sh does (the held-out images are "
                        "a hash of the path as given; run from the repository root)")
    p.add_argument("--synth-val", default=str(REPO / "runs/synth/val"), help="SynthParts val folder")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument("--threads", type=int, default=2)
    return p


def parse_args(argv=None):
    return arg_parser("benchmarks.by_example", __doc__).parse_args(argv)


def main(argv=None) -> int:
    import json
    import subprocess

    import numpy as np
    import torch

    from partpoint.backbones import load_backbone
    from partpoint.data import open_dataset
    from partpoint.evaluation import evaluate
    from partpoint.evaluation.metrics import auroc
    from partpoint.io.atomic import atomic_write_json

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    backbone = load_backbone("default-llava", dtype="float32")

    def score(method, dataset, **kw) -> dict:
        begin = time.perf_counter()
        result = evaluate(method, backbone=backbone, dataset=dataset, progress=True, seed=0, **kw)
        out = {"n": result.n, "hit_rate": result.hit_rate, "no_reference": result.unparsed,
               "wall_s": time.perf_counter() - begin,
               "hits": {s["key"]: bool(s["hit"]) for s in result.samples},
               "referenced": [s["key"] for s in result.samples if s["parsed"]]}
        rating = result.reliability_summary()  # the calibration's confidence (a reference alone: its own map)
        if rating:
            rated = [s for s in result.samples if "confidence" in s]
            out |= {"rated": len(rated), "ece": rating["ece"], "ece_floor": rating["ece_floor"],
                    "confidence_auroc": auroc([s["confidence"] for s in rated], [s["hit"] for s in rated])}
        print(method, kw, {k: v for k, v in out.items() if k not in ("hits", "referenced")}, flush=True)
        return out

    def with_reference(text: dict, shot: dict) -> dict:
        """Hit rates of the instruction alone and with references over the samples that have a reference."""
        keys = shot["referenced"]
        rate = lambda run: float(np.mean([run["hits"][k] for k in keys])) if keys else float("nan")  # noqa: E731
        return {"n": len(keys), "ours": rate(text), "example": rate(shot)}

    sweep = {}
    for name, spec in val_sets(args.data, args.synth_val).items():
        val = evenly(open_dataset(spec), VAL_CAP)
        sweep[name] = {"spec": spec, "n": len(val), "ours": score("ours", val),
                       "weights": {str(w): score("example", val, shots=1, example_weight=w) for w in WEIGHTS}}
    mean = {str(w): float(sum(cell["weights"][str(w)]["hit_rate"] for cell in sweep.values()) / len(sweep))
            for w in WEIGHTS}
    mean["text only"] = float(sum(cell["ours"]["hit_rate"] for cell in sweep.values()) / len(sweep))
    chosen = max(WEIGHTS, key=lambda w: (mean[str(w)], -abs(w - 0.5)))
    tests = {}
    for name, spec in cells(args.data).items():
        dataset = open_dataset(spec)
        dataset = dataset.subset(range(min(TEST_CAP, len(dataset))))  # the first 200, as eval_targets.sh
        text = score("ours", dataset)
        tests[name] = {"spec": spec, "ours": text["hit_rate"]}
        for k in SHOTS:
            shot = score("example", dataset, shots=k, example_weight=chosen)
            tests[name][f"k{k}"] = {**shot, "with_reference": with_reference(text, shot)}
        for key, kw in (("k1_alone", {"example_weight": 1.0}),  # no instruction: the reference alone
                        ("k1_click", {"example_weight": chosen, "example_mark": "point"})):  # one click, fused
            shot = score("example", dataset, shots=1, **kw)
            tests[name][key] = {**shot, "with_reference": with_reference(text, shot)}
        attention = args.results / "targets" / f"{name}_attention.json"  # eval_targets.sh's, same samples
        if attention.is_file():
            tests[name]["attention"] = json.loads(attention.read_text())["hit_rate"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    atomic_write_json(args.results / "by_example.json",
                      {"val": sweep, "val_mean": mean, "chosen_weight": chosen, "cells": tests,
                       "run": {"git_commit": commit, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                               "val_cap": VAL_CAP, "test_cap": TEST_CAP}})
    print(json.dumps({"chosen_weight": chosen, **{n: {k: c[k]["with_reference"] for k in ("k1", "k3")}
                                                  for n, c in tests.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
