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
    result = evaluate(args.method, backbone=backbone, dataset=dataset, pointer=args.pointer,
                      heads=args.heads, seed=args.seed, progress=sys.stderr.isatty(), shots=args.shots,
                      example_weight=args.example_weight)
    if args.out:
        result.save(args.out)
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(result.table())
        if args.out:
            print(f"\nper-sample results written to {args.out}")
    return 0
