"""Your own objects: how many annotated photos a new part needs -> ``results/learning_curve.json``,
``docs/learning_curve.png``. Run: ``python -m benchmarks.learning_curve`` (~35 min on 2 cores).

For Car-Parts and DoorDetect (handles): pointers trained on the first 10 / 25 / 50 / 100 / all training images
(a seeded order), from scratch and fine-tuned, scored on the test split by the cached hit test (heatmap peak
inside the part mask sampled 8 x 8 per grid cell). Fine-tuning starts from a *leave-out* pointer trained like
the bundled one but on SynthParts and Clothing Co-Parsing only: the bundled pointer has seen both photo sets,
the leave-out pointer neither, as with your own objects. Every run has the defaults of ``partpoint train`` (10 epochs,
lr 1e-3), with at least ``MIN_STEPS`` and at most ``MAX_STEPS`` steps.

Box targets: DoorDetect has boxes only. Pointers fine-tuned on 565 of its training images with the box or its
inscribed ellipse as the target are scored on the other 100 (val), always against the box; the val winner is
``load_yolo``'s default ``box_target``.

Feature caches go to ``--cache-dir`` (default ``runs/scale/cache``: the caches of ``scripts/train_scale.sh``
are reused).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from .datasets import evenly
from .settings import REPO

IMAGES = (10, 25, 50, 100, None)  # None: all training images
MIN_STEPS, MAX_STEPS, VAL_IMAGES = 200, 800, 100


def parse_args(argv=None):
    from partpoint.data.paths import SHARED_DATA

    p = argparse.ArgumentParser(prog="python -m benchmarks.learning_curve", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    p.add_argument("--synth-train", default=str(REPO / "runs/scale/synth-train"),
                   help="SynthParts train folder of the leave-out pointer (scripts/train_scale.sh makes it)")
    p.add_argument("--synth-val", default=str(REPO / "runs/synth/val"), help="SynthParts val folder")
    p.add_argument("--cache-dir", type=Path, default=REPO / "runs/scale/cache")
    p.add_argument("--work", type=Path, default=REPO / "runs/curve", help="the leave-out pointer's folder")
    p.add_argument("--results", type=Path, default=REPO / "results")
    p.add_argument("--docs", type=Path, default=REPO / "docs")
    p.add_argument("--test-cap", type=int, default=200, help="test samples per dataset (evenly spaced)")
    p.add_argument("--init-epochs", type=int, default=2, help="epochs of the leave-out pointer")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


class Bench:
    """The backbone, heads and caches every run shares."""

    def __init__(self, args):
        import torch

        from partpoint.backbones import load_backbone
        from partpoint.heads.selection import read_heads
        from partpoint.pointer import PointerIdentity
        from partpoint.predictor import resolve_pointer_dir
        from partpoint.training import TrainConfig

        torch.set_num_threads(args.threads)
        self.args = args
        self.backbone = load_backbone("default-llava", dtype="float32")
        self.heads = read_heads(resolve_pointer_dir("default-llava", None) / "heads.json")
        self.identity = PointerIdentity.of(self.backbone, self.heads)
        self.config = TrainConfig.of(progress=False, num_heads=len(self.heads))

    def records(self, spec: str, cap: int | None = None, **kw) -> list:
        from partpoint.data import open_dataset
        from partpoint.training.cache import FeatureCache

        dataset = open_dataset(spec, **kw)
        dataset = evenly(dataset, cap) if cap else dataset
        return FeatureCache.build(self.backbone, dataset, heads=self.heads, cache_dir=self.args.cache_dir,
                                  progress=True).entries()

    def items(self, records: list) -> list:
        from partpoint.training import prepare_items

        return prepare_items(records, scale=self.config.pointer.upsample)[0]

    def train(self, items: list, *, start=None, epochs=None, val_items=(), out_dir=None):
        from partpoint.training import fit

        steps_per_epoch = math.ceil(len(items) / self.config.optim.batch_size)
        if epochs is None:
            epochs = min(max(self.config.optim.epochs, math.ceil(MIN_STEPS / steps_per_epoch)),
                         max(1, MAX_STEPS // steps_per_epoch))
        begin = time.perf_counter()
        result = fit(items, identity=self.identity, config=self.config.override(epochs=epochs), start=start,
                     val_items=val_items, out_dir=out_dir)
        return result.pointer, {"epochs": epochs, "steps": result.log["epochs"][-1]["steps"],
                                "wall_s": time.perf_counter() - begin}


def hit(pointer, items) -> float:
    from partpoint.training import hit_rate, pointer_points

    return hit_rate(items, pointer_points(pointer, items))


def leave_out_pointer(bench: Bench):
    """The fine-tuning start: trained like the bundled pointer but on SynthParts + CCP train only."""
    from partpoint.pointer import PartPointer

    out = bench.args.work / "leave-out"
    if not (out / "model.safetensors").is_file() or not (out / "train_log.json").is_file():
        data = bench.args.data
        train = bench.items(bench.records(bench.args.synth_train) + bench.records(f"labelmap:{data}/ccp/train"))
        val = bench.items(bench.records(bench.args.synth_val))
        bench.config = bench.config.override(progress=True)
        bench.train(train, epochs=bench.args.init_epochs, val_items=val, out_dir=out)
        bench.config = bench.config.override(progress=False)
        del train, val
    return PartPointer.from_pretrained(out).eval()


def curve(bench: Bench, name: str, train_spec: str, test_spec: str, init) -> dict:
    """One dataset's learning curve, with the centre, attention and leave-out pointer on the same test items."""
    from tqdm.auto import tqdm

    from partpoint.training import attention_points, hit_rate

    train = bench.items(bench.records(train_spec))
    test = bench.items(bench.records(test_spec, bench.args.test_cap))
    order = np.random.default_rng(0).permutation(sorted({item.image_id for item in train})).tolist()
    runs = []
    for n in tqdm(IMAGES, desc=name, unit="size"):
        chosen = set(order[:n] if n else order)
        subset = [item for item in train if item.image_id in chosen]
        for start in ("scratch", "fine-tuned"):
            pointer, run = bench.train(subset, start=init.state_dict() if start == "fine-tuned" else None)
            runs.append({"images": len(chosen), "samples": len(subset), "start": start, **run,
                         "test_hit_rate": hit(pointer, test)})
    centres = [(item.grid[1] / 2, item.grid[0] / 2) for item in test]
    return {"dataset": name, "train": train_spec, "test": test_spec, "n_test": len(test),
            "train_images": len(order), "runs": runs,
            "baselines": {"centre": hit_rate(test, centres), "attention": hit_rate(test, attention_points(test)),
                          "leave-out pointer (no fine-tuning)": hit(init, test)}}


def box_targets(bench: Bench, init) -> dict:
    """DoorDetect handles: box vs inscribed-ellipse training targets, scored against the box on val images."""
    from partpoint.data import open_dataset
    from partpoint.training.cache import with_mask

    spec = f"yolo:{bench.args.data}/doordetect/train:handle"
    records = bench.records(spec)
    ellipses = {r.key: r.mask for r in open_dataset(spec, box_target="ellipse").records}
    order = np.random.default_rng(1).permutation(sorted({r.image_id for r in records})).tolist()
    val_ids = set(order[:VAL_IMAGES])
    val = bench.items([r for r in records if r.image_id in val_ids])
    out = {"val_images": VAL_IMAGES, "train_images": len(order) - VAL_IMAGES, "n_val": len(val), "runs": []}
    for shape in ("box", "ellipse"):
        train = [r for r in records if r.image_id not in val_ids]
        if shape == "ellipse":
            train = [e for e in (with_mask(r, ellipses[r.key].load()) for r in train) if e is not None]
        pointer, run = bench.train(bench.items(train), start=init.state_dict())
        out["runs"].append({"target": shape, "samples": len(train), **run, "val_hit_rate": hit(pointer, val)})
    return out


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result["curves"]), figsize=(5.2 * len(result["curves"]), 4), squeeze=False)
    for ax, cur in zip(axes[0], result["curves"]):
        for start, style in (("scratch", "o-"), ("fine-tuned", "s-")):
            runs = [r for r in cur["runs"] if r["start"] == start]
            ax.plot([r["images"] for r in runs], [100 * r["test_hit_rate"] for r in runs], style, label=start)
        for (label, value), colour in zip(cur["baselines"].items(), ("grey", "tab:red", "tab:green")):
            ax.axhline(100 * value, ls="--", color=colour, lw=1, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("training images")
        ax.set_ylabel("test hit rate (%)")
        ax.set_title(f"{cur['dataset']} ({cur['n_test']} test samples)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    from partpoint.io.atomic import atomic_write_text

    args = parse_args(argv)
    bench = Bench(args)
    init = leave_out_pointer(bench)
    data = args.data
    result = {"min_steps": MIN_STEPS, "max_steps": MAX_STEPS, "heads": [list(h) for h in bench.heads],
              "leave_out": json.loads((args.work / "leave-out" / "train_log.json").read_text()).get("best"),
              "curves": [curve(bench, "Car-Parts", f"carparts:{data}/carparts/trainingset",
                               f"carparts:{data}/carparts/testset", init),
                         curve(bench, "DoorDetect", f"yolo:{data}/doordetect/train:handle",
                               f"yolo:{data}/doordetect/test:handle#direct", init)],
              "box_targets": box_targets(bench, init)}
    args.results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results / "learning_curve.json", json.dumps(result, indent=2))
    plot(result, args.docs / "learning_curve.png")
    print(json.dumps({c["dataset"]: [(r["images"], r["start"], round(r["test_hit_rate"], 3)) for r in c["runs"]]
                      for c in result["curves"]}))
    print(json.dumps(result["box_targets"]["runs"]))
    if (args.results / "machine.json").is_file():  # docs/RESULTS.md shows this part beside the last make bench
        from .report import write_report

        write_report(args.results, REPO / "docs" / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
