"""``partpoint train``: train a pointer (Q-Synth + A2P) for a frozen backbone from a feature cache."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs
from ._config_flags import add_config_arguments, config_from_args

NAME = "train"
HELP = "Train a part pointer on cached backbone features; writes a pointer directory and train_log.json."


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True,
                   help="backbone directory or default name (e.g. default-llava)")
    add_backbone_options(p)
    p.add_argument("--data", required=True, action="append", help="training dataset spec; repeat to combine")
    p.add_argument("--val", action="append", default=None,
                   help="validation dataset spec (picks the best epoch); repeat: the sets' mean picks it")
    p.add_argument("--out", required=True, help="output pointer directory")
    p.add_argument("--heads", default=None, help="heads JSON from select-heads (default: select on --data)")
    p.add_argument("--layers", default=None,
                   help="candidate layers of head selection, e.g. 2-8 or 2,4,6 (default: every layer from 2)")
    p.add_argument("--max-samples", type=int, default=None,
                   help="use at most N samples of each dataset (a seeded random subset; default all)")
    p.add_argument("--negatives", type=int, default=0,
                   help="also train on N negatives per image of each --data set: instructions borrowed from "
                        "other images naming something this one does not show (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_arguments(p)


def parse_layers(text: str | None) -> tuple[int, ...] | None:
    """``"2-8"`` -> (2, ..., 8); ``"2,4,6"`` -> (2, 4, 6); None stays None."""
    from ..errors import LayerError

    if not text:
        return None
    try:
        if "-" in text:
            first, last = (int(x) for x in text.split("-", 1))
            return tuple(range(first, last + 1))
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise LayerError(f"--layers {text!r} is not a range like 2-8 or a list like 2,4,6") from None


def subsample(dataset, n: int | None, *, seed: int):
    """At most ``n`` samples of ``dataset``: a seeded random subset, kept in dataset order."""
    import numpy as np

    from ..errors import DataError

    if n is None or len(dataset) <= n:
        return dataset
    if n < 1:
        raise DataError(f"--max-samples {n} selects no samples; pass a positive number")
    keep = np.random.default_rng(seed).choice(len(dataset), size=n, replace=False)
    return dataset.subset(sorted(int(i) for i in keep))


def run(args) -> int:
    import shlex
    import sys

    import torch

    from ..backbones import load_backbone
    from ..data import open_dataset
    from ..training import train_pointer

    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args, select_layers=parse_layers(args.layers), progress=not args.quiet)
    train_sets = [subsample(open_dataset(spec), args.max_samples, seed=config.seed) for spec in args.data]
    if args.negatives < 0:
        from ..errors import DataError

        raise DataError(f"--negatives {args.negatives}: pass 0 or more negatives per image")
    if args.negatives:
        from ..data.negatives import negatives

        made = [negatives(ds, per_image=args.negatives, seed=config.seed) for ds in train_sets]
        train_sets += [ds for ds in made if len(ds)]
    val_sets = [subsample(open_dataset(spec), args.max_samples, seed=config.seed) for spec in args.val or ()]
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    result = train_pointer(backbone, train_sets, val_dataset=val_sets, heads=args.heads, out_dir=args.out,
                           config=config, resume=args.resume, command="partpoint " + shlex.join(sys.argv[1:]))
    if not result.completed:
        print(f"stopped early; continue with --resume (checkpoint in {result.out_dir})")
        return 0
    if result.pointer is not None:
        last = result.log["epochs"][-1] if result.log["epochs"] else {}
        best = result.log.get("best", {})
        loss = last.get("loss", float("nan"))
        summary = f"trained {len(result.log['epochs'])} epochs, final loss {loss:.3f}"
        if best.get("epoch"):
            summary += (f", best val hit rate {best['val_hit_rate']:.3f} (epoch {best['epoch']}); "
                        "attention baseline ")
            summary += f"{result.log['val_attention_baseline_hit_rate']:.3f}"
        print(f"{summary} -> {result.out_dir}")
    return 0
