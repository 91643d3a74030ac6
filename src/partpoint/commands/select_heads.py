"""``partpoint select-heads``: pick the backbone's localization heads on a dataset and save the choice."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "select-heads"
HELP = ("Select the k localization heads of a backbone (attention-mass elbow + spatial entropy votes, the "
        "rules of the authors' public code).")


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True,
                   help="backbone directory or default name (e.g. default-llava)")
    add_backbone_options(p)
    p.add_argument("--data", required=True, action="append", help="dataset spec; repeat to pool several")
    p.add_argument("--k", type=int, default=5, help="number of heads (default 5)")
    p.add_argument("--n-samples", type=int, default=32, help="samples that vote (default 32)")
    p.add_argument("--layers", type=int, nargs="+", default=None,
                   help="only these layers (default: all >= 2)")
    p.add_argument("--seed", type=int, default=0, help="which samples vote (default 0)")
    p.add_argument("--json", action="store_true", help="print the HeadSelection JSON instead of a table")
    p.add_argument("--out", default=None, help="also write the HeadSelection JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def format_table(selection) -> str:
    """Human-readable table: rank, layer, head, votes, mean spatial entropy."""
    lines = [f"{'rank':>4}  {'layer':>5}  {'head':>4}  {'votes':>5}  {'entropy':>7}"]
    for rank, pair in enumerate(selection.heads, 1):
        entropy = selection.mean_entropy.get(pair, float("nan"))
        lines.append(f"{rank:>4}  {pair[0]:>5}  {pair[1]:>4}  {selection.votes.get(pair, 0):>5}  "
                     f"{entropy:>7.3f}")
    lines.append(f"({selection.n_samples} samples voted)")
    return "\n".join(lines)


def run(args) -> int:
    from pathlib import Path

    from ..backbones import load_backbone
    from ..data import open_dataset
    from ..errors import DataError
    from ..heads import select_heads
    from ..training import ConcatDataset

    if args.k < 1 or args.n_samples < 1:
        raise DataError(f"--k and --n-samples must be at least 1 (got {args.k}, {args.n_samples})")
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    dataset = ConcatDataset([open_dataset(spec) for spec in args.data])
    selection = select_heads(backbone, dataset, k=args.k, n_samples=args.n_samples, layers=args.layers,
                             seed=args.seed, progress=not args.quiet)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(selection.to_json())
    print(selection.to_json() if args.json else format_table(selection))
    return 0
