"""``partpoint align``: LLaVA stage-1 alignment of default-llava's projector (DINOv2 + SmolLM2 frozen)."""

from __future__ import annotations

NAME = "align"
HELP = "Train default-llava's projector on scene QA with DINOv2 and SmolLM2 frozen (resumable)."


def add_arguments(p) -> None:
    from ..backbones.pretrained.assemble import ASSET_DIR

    p.add_argument("--out", default=str(ASSET_DIR),
                   help="asset folder holding config.json, processor_config.json, chat_template.jinja "
                        "(default: the bundled default-llava folder)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, init and batch order (default 0)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the recipe's)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--restart", action="store_true", help="ignore OUT/_align/checkpoint.pt and start over")


def run(args) -> int:
    import shlex
    import sys
    from dataclasses import replace

    from ..pretrain.align import AlignRecipe, align

    recipe = AlignRecipe() if args.steps is None else replace(AlignRecipe(), steps=args.steps)
    record = align(args.out, seed=args.seed, recipe=recipe, threads=args.threads, resume=not args.restart,
                   command="partpoint " + shlex.join(sys.argv[1:]))
    print(f"aligned the projector in {record['train_s']:.0f} s ({record['steps']} steps), loss "
          f"{record['loss_first_25']:.3f} -> {record['loss_last_25']:.3f} -> {args.out}")
    return 0
