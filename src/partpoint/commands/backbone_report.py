"""``partpoint backbone-report BACKBONE``: held-out VQA, fixed questions, attention peaks and the key probe."""

from __future__ import annotations

from ._backbone_options import add_backbone_options

NAME = "backbone-report"
HELP = ("Evaluate a backbone (held-out VQA, five fixed questions, attention peaks, key probe); "
        "write REPORT.md + report.json.")


def _layers(text):
    return [int(x) for x in text.split(",")] if text else None


def add_arguments(p) -> None:
    p.add_argument("backbone", help="a backbone folder or default name (default-llava)")
    p.add_argument("--out", default=None,
                   help="where REPORT.md / report.json go (default: the backbone folder; for default-llava its "
                        "asset folder src/partpoint/assets/backbones/default-llava)")
    p.add_argument("--scenes", type=int, default=150, help="held-out SynthParts scenes to render (default 150)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the held-out scenes and samples (default 1000)")
    p.add_argument("--split", default="val", help="held-out split name, never 'train' (default val)")
    p.add_argument("--questions", type=int, default=600, help="SynthParts questions, split evenly by type (default 600)")
    p.add_argument("--peak-targets", type=int, default=300,
                   help="parts for the attention analysis (each asked as a colour question and a pointing instruction)")
    p.add_argument("--car-questions", type=int, default=150, help="Car-Parts test questions (0 skips; default 150)")
    p.add_argument("--carparts", default=None, help="Car-Parts test folder (default: the shared test set)")
    p.add_argument("--probe-layers", default=None, help="comma-separated layers of the key probe (default 0,2,4,6,8)")
    p.add_argument("--probe-baseline", default=None,
                   help="another backbone folder probed on the same scenes, side by side (e.g. the old default)")
    p.add_argument("--probe-baseline-layers", default=None, help="its layers (default 0..5)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    add_backbone_options(p)


def run(args) -> int:
    from ..backbones.defaults import ASSEMBLED_DEFAULTS, resolve
    from ..backbones.pretrained.assemble import ASSET_DIR
    from ..pretrain.report import CARPARTS_TEST, report

    resolve(args.backbone)  # a bad name or folder fails before anything loads
    out = args.out or (str(ASSET_DIR) if args.backbone in ASSEMBLED_DEFAULTS else args.backbone)
    report(args.backbone, out_dir=out, n_scenes=args.scenes, seed=args.seed, split=args.split,
           max_questions=args.questions, max_peak_targets=args.peak_targets, car_questions=args.car_questions,
           carparts_root=args.carparts or CARPARTS_TEST, probe_layers=_layers(args.probe_layers),
           probe_baseline=args.probe_baseline, probe_baseline_layers=_layers(args.probe_baseline_layers),
           device=args.device, dtype=args.dtype, threads=args.threads)
    return 0
