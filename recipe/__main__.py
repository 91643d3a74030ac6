"""``python -m recipe align|report``: the recipe that made default-llava's projector (see recipe/README.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace

from partpoint.backbones.defaults import ASSET_DIR


def _layers(text):
    return [int(x) for x in text.split(",")] if text else None


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m recipe", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    align = sub.add_parser("align", help="train the projector on scene QA with DINOv2 and SmolLM2 frozen (resumable)")
    align.add_argument("--out", default=str(ASSET_DIR), help="asset folder holding config.json, processor_config.json, "
                       "chat_template.jinja (default: the bundled default-llava folder)")
    align.add_argument("--seed", type=int, default=0, help="seed of data, init and batch order (default 0)")
    align.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the recipe's)")
    align.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    align.add_argument("--restart", action="store_true", help="ignore OUT/_align/checkpoint.pt and start over")
    report = sub.add_parser("report", help="held-out VQA, fixed questions, attention peaks and the key probe; "
                            "writes REPORT.md + report.json")
    report.add_argument("backbone", nargs="?", default="default-llava", help="a backbone folder or default name")
    report.add_argument("--out", default=str(ASSET_DIR), help="where REPORT.md / report.json go")
    report.add_argument("--scenes", type=int, default=150, help="held-out SynthParts scenes to render")
    report.add_argument("--seed", type=int, default=1000, help="seed of the held-out scenes and samples")
    report.add_argument("--split", default="val", help="held-out split name, never 'train'")
    report.add_argument("--questions", type=int, default=600, help="SynthParts questions, split evenly by type")
    report.add_argument("--peak-targets", type=int, default=300,
                        help="parts for the attention analysis (each asked as a colour question and an instruction)")
    report.add_argument("--car-questions", type=int, default=150, help="Car-Parts test questions (0 skips)")
    report.add_argument("--carparts", default=None, help="Car-Parts test folder (default: the shared test set)")
    report.add_argument("--probe-layers", default=None, help="comma-separated layers of the key probe")
    report.add_argument("--probe-baseline", default=None, help="another backbone folder probed on the same scenes")
    report.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "align":
        from .align import AlignRecipe, align

        recipe = AlignRecipe() if args.steps is None else replace(AlignRecipe(), steps=args.steps)
        record = align(args.out, seed=args.seed, recipe=recipe, threads=args.threads, resume=not args.restart,
                       command="python -m recipe " + shlex.join(sys.argv[1:]))
        print(f"aligned the projector in {record['train_s']:.0f} s ({record['steps']} steps), loss "
              f"{record['loss_first_25']:.3f} -> {record['loss_last_25']:.3f} -> {args.out}")
        return 0
    from .report import CARPARTS_TEST, report

    report(args.backbone, out_dir=args.out, n_scenes=args.scenes, seed=args.seed, split=args.split,
           max_questions=args.questions, max_peak_targets=args.peak_targets, car_questions=args.car_questions,
           carparts_root=args.carparts or CARPARTS_TEST, probe_layers=_layers(args.probe_layers),
           probe_baseline=args.probe_baseline, dtype="float32", threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
