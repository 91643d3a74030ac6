"""``partpoint eval``: hit rate, patch accuracy and per-category hit rates of a pointing method."""

from __future__ import annotations

from ..evaluation.methods import METHODS
from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "eval"
HELP = "Evaluate a pointing method (ours, example, attention, text, center, random) on a part dataset."


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True,
                   help="default backbone name (default-llava) or model directory")
    p.add_argument("--method", choices=METHODS, required=True, help="pointing method to evaluate")
    p.add_argument("--data", required=True,
                   help="dataset spec: a SynthParts folder, instructpart:PATH, coco:JSON[:IMAGES], "
                        "carparts:PATH, labelmap:PATH, yolo:PATH[:PART,...] or pointarena:PATH")
    p.add_argument("--pointer", default=None,
                   help="pointer directory (default: the one bundled for the backbone)")
    p.add_argument("--heads", default=None,
                   help="heads.json from select-heads (attention method, without --pointer)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--seed", type=int, default=0, help="seed of the random method and of the references "
                   "the example method draws (default 0)")
    p.add_argument("--shots", type=int, default=1,
                   help="example method: reference photos per sample (same object:part, another image)")
    p.add_argument("--example-weight", type=float, default=None,
                   help="example method: the references' share of the fused heatmap (1: references alone)")
    p.add_argument("--example-mark", choices=("mask", "point"), default="mask",
                   help="example method: mark each reference's part by its mask, or by one click at the "
                        "mask's innermost pixel (as a person would)")
    p.add_argument("--negatives", type=int, default=0,
                   help="ours: also point at N negatives per image (an instruction naming something the "
                        "image does not show) and report absent_auroc and the false-point rate (default 0)")
    p.add_argument("--max-points", default=None,
                   help="ours: ask for every instance ('the handle of every mug', one group per image and "
                        "object:part) and score up to N points (or 'all') one to one and by PointArena's "
                        "rule")
    p.add_argument("--plot", default=None,
                   help="ours with a calibrated pointer: write the reliability diagram to this PNG")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--out", default=None,
                   help="also write the summary and per-sample results to this JSON file")
    add_backbone_options(p)


def run(args) -> int:
    import json
    import sys

    from ..data import open_dataset
    from ..errors import DataError

    if args.limit is not None and args.limit < 1:
        raise DataError(f"--limit {args.limit} selects no samples; pass a positive number")
    if args.shots < 1:
        raise DataError(f"--shots {args.shots}: the example method needs at least one reference")
    if args.negatives < 0:
        raise DataError(f"--negatives {args.negatives}: pass 0 or more negatives per image")
    max_points = parse_max_points(args.max_points)
    if (args.negatives or args.max_points or args.plot) and args.method != "ours":
        raise DataError("--negatives, --max-points and --plot score the pointer's confidence: use "
                        "--method ours")
    dataset = open_dataset(args.data)
    if args.limit is not None:
        dataset = dataset.subset(range(min(args.limit, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"dataset {args.data!r} has no samples; check the path and split")

    import torch
    from transformers.utils import logging as hf_logging

    from ..backbones import load_backbone
    from ..evaluation import evaluate

    hf_logging.disable_progress_bar()
    torch.manual_seed(args.seed)
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    if args.max_points:
        return run_instances(args, backbone, dataset, max_points)
    result = evaluate(args.method, backbone=backbone, dataset=dataset, pointer=args.pointer,
                      heads=args.heads, seed=args.seed, progress=sys.stderr.isatty(), shots=args.shots,
                      example_weight=args.example_weight, example_mark=args.example_mark,
                      negatives=args.negatives)
    if args.out:
        result.save(args.out)
    if args.plot:
        from ..io.viz import reliability_figure

        bins = result.summary().get("reliability")
        if bins is None:
            raise DataError("--plot needs a calibrated pointer (fit one with `partpoint calibrate`)")
        reliability_figure({dataset.name: bins}, args.plot, title=f"Reliability on {dataset.name}")
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(result.table())
        if args.out:
            print(f"\nper-sample results written to {args.out}")
    return 0


def parse_max_points(text: str | None) -> int | None:
    """``--max-points``: a positive number, ``all`` (None: no cap), or absent (0: single-point evaluation)."""
    from ..errors import DataError

    if text is None:
        return 0
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise DataError(f"--max-points {text!r}: pass a positive number or 'all'")
    return int(text)


def run_instances(args, backbone, dataset, max_points: int | None) -> int:
    """``--max-points``: every instance of an object:part per image (``evaluation.instances``)."""
    import json
    import sys

    from ..evaluation.instances import evaluate_instances, instance_groups
    from ..io.atomic import atomic_write_json
    from ..predictor import load_pointer

    pointer = load_pointer(backbone, args.pointer)
    result = evaluate_instances(pointer, instance_groups(dataset), max_points=max_points,
                                progress=sys.stderr.isatty())
    if args.out:
        atomic_write_json(args.out, result, indent=1)
    summary = {key: result[key] for key in ("all", "several", "max_points")}
    if args.json:
        print(json.dumps(summary))
        return 0
    for name, scores in (("all groups", result["all"]), ("2+ instances", result["several"])):
        print(f"{name:<13} {scores['groups']:>4} groups, {scores['instances']:>4} instances, "
              f"{scores['points']:>4} points | precision {scores['precision']:.3f} recall "
              f"{scores['recall']:.3f} F1 {scores['f1']:.3f} | count acc {scores['count_accuracy']:.3f} | "
              f"PointArena {scores['pointarena_hit_rate']:.3f}")
    return 0
