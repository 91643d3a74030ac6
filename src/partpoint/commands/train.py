"""``partpoint train``: train a pointer (Q-Synth + A2P) for a frozen backbone from a feature cache."""

from __future__ import annotations

import argparse

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "train"
HELP = "Train a part pointer on cached backbone features; writes a pointer directory and train_log.json."


OPTIONAL_FIELDS = {"sdf_cap": "sdf_cap", "inside_slope": "inside_slope", "pos_weight": "pos_weight",
                   "detach_attn": "detach_attn", "a2p_residual": "a2p_residual", "padding": "padding",
                   "bce_target": "bce_target", "rules": "select_rules"}


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True, help="backbone directory or default name (e.g. default-llava)")
    add_backbone_options(p)
    p.add_argument("--data", required=True, action="append", help="training dataset spec; repeat to combine")
    p.add_argument("--val", default=None, help="validation dataset spec (picks the best epoch)")
    p.add_argument("--out", required=True, help="output pointer directory")
    p.add_argument("--heads", default=None, help="heads JSON from select-heads (default: select on --data)")
    p.add_argument("--k", type=int, default=5, help="heads to select when --heads is not given (default 5)")
    p.add_argument("--layers", default=None,
                   help="candidate layers of head selection, e.g. 2-8 or 2,4,6 (default: every layer from 2)")
    p.add_argument("--max-samples", type=int, default=None,
                   help="use at most N samples of each dataset (a seeded random subset; default all)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default OUT/cache)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--stop-after-steps", type=int, default=None, help="end this run early (resume later)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    hyper = p.add_argument_group("pointer hyper-parameters")
    hyper.add_argument("--num-latents", type=int, default=8)
    hyper.add_argument("--depth", type=int, default=2)
    hyper.add_argument("--tau", type=float, default=2.0)
    hyper.add_argument("--gamma", type=float, default=4.0)
    hyper.add_argument("--lam", type=float, default=1.0)
    fixes = p.add_argument_group("against the centre hedge (defaults: TrainConfig; docs/METHOD.md)")
    fixes.add_argument("--sdf-cap", type=float, default=None, help="cap of the outside distance in the penalty, patches")
    fixes.add_argument("--inside-slope", type=float, default=None, help="pull toward the innermost point")
    fixes.add_argument("--pos-weight", type=float, default=None, help="BCE weight of part patches")
    fixes.add_argument("--detach-attn", action=argparse.BooleanOptionalAction, default=None,
                       help="A2P reads A_s without passing gradients back to Q-Synth")
    fixes.add_argument("--a2p-residual", action=argparse.BooleanOptionalAction, default=None,
                       help="heatmap = upsampled log mean A_s + A2P (last conv zero-initialised)")
    fixes.add_argument("--padding", choices=("zeros", "replicate"), default=None, help="A2P conv padding")
    fixes.add_argument("--bce-target", choices=("cells", "coverage"), default=None, help="BCE target per patch")
    fixes.add_argument("--rules", choices=("reference", "paper"), default=None, help="head-selection rules")
    ablations = p.add_argument_group("ablations")
    for flag, what in (("qsynth", "final-token query instead of Q-Synth"), ("a2p", "mean attention instead of A2P"),
                       ("values", "A2P without values"), ("sdf", "inside-mass loss instead of the SDF term")):
        ablations.add_argument(f"--no-{flag}", action="store_true", help=what)


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
    from ..training import TrainConfig, train_pointer

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, k=args.k,
        select_layers=parse_layers(args.layers),
        num_latents=args.num_latents, depth=args.depth, tau=args.tau, gamma=args.gamma, lam=args.lam,
        use_qsynth=not args.no_qsynth, use_a2p=not args.no_a2p, use_values=not args.no_values,
        use_sdf=not args.no_sdf, cache_dir=args.cache_dir, stop_after_steps=args.stop_after_steps,
        progress=not args.quiet,
        **{field: getattr(args, arg) for arg, field in OPTIONAL_FIELDS.items() if getattr(args, arg) is not None},
    )
    train_sets = [subsample(open_dataset(spec), args.max_samples, seed=args.seed) for spec in args.data]
    val_set = subsample(open_dataset(args.val), args.max_samples, seed=args.seed) if args.val else None
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    result = train_pointer(
        backbone,
        train_sets,
        val_dataset=val_set,
        heads=args.heads,
        out_dir=args.out,
        config=config,
        resume=args.resume,
        command="partpoint " + shlex.join(sys.argv[1:]),
    )
    if not result.completed:
        print(f"stopped early; continue with --resume (checkpoint in {result.out_dir})")
        return 0
    if result.pointer is not None:
        last = result.log["epochs"][-1] if result.log["epochs"] else {}
        best = result.log.get("best", {})
        summary = f"trained {len(result.log['epochs'])} epochs, final loss {last.get('loss', float('nan')):.3f}"
        if best.get("epoch"):
            summary += f", best val hit rate {best['val_hit_rate']:.3f} (epoch {best['epoch']}); attention baseline "
            summary += f"{result.log['val_attention_baseline_hit_rate']:.3f}"
        print(f"{summary} -> {result.out_dir}")
    return 0
