"""``partpoint backbone-report DIR``: held-out VQA accuracy and native attention peaks of a pretrained backbone."""

from __future__ import annotations

NAME = "backbone-report"
HELP = "Evaluate a pretrained backbone folder (held-out VQA, attention peaks); write DIR/REPORT.md + report.json."


def add_arguments(p) -> None:
    p.add_argument("backbone_dir", help="a backbone folder (e.g. src/partpoint/assets/backbones/default-llava)")
    p.add_argument("--scenes", type=int, default=150, help="held-out SynthParts scenes to render (default 150)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the held-out scenes and samples (default 1000)")
    p.add_argument("--split", default="val", help="held-out split name, never 'train' (default val)")
    p.add_argument("--questions", type=int, default=600, help="SynthParts questions, split evenly by type (default 600)")
    p.add_argument("--peak-targets", type=int, default=300,
                   help="parts for the attention analysis (each asked as a colour question and a pointing instruction)")
    p.add_argument("--car-questions", type=int, default=150, help="Car-Parts test questions (0 skips; default 150)")
    p.add_argument("--carparts", default=None, help="Car-Parts test folder (default: the shared test set)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")


def run(args) -> int:
    import os

    from ..errors import BackboneError
    from ..pretrain.report import CARPARTS_TEST, report

    if not os.path.isfile(os.path.join(args.backbone_dir, "config.json")):
        raise BackboneError(f"{args.backbone_dir} has no config.json; pass a folder written by `partpoint pretrain`")
    report(args.backbone_dir, n_scenes=args.scenes, seed=args.seed, split=args.split, max_questions=args.questions,
           max_peak_targets=args.peak_targets, car_questions=args.car_questions,
           carparts_root=args.carparts or CARPARTS_TEST, threads=args.threads)
    return 0
