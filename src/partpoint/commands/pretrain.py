"""``partpoint pretrain``: pretrain a default backbone from scratch on scene QA (no pointing data)."""

from __future__ import annotations

NAME = "pretrain"
HELP = "Pretrain a tiny LLaVA / Qwen2.5-VL backbone from random init on SynthParts + Car-Parts QA."


def add_arguments(p) -> None:
    p.add_argument("--arch", choices=("llava", "qwen2_5_vl"), required=True, help="architecture to pretrain")
    p.add_argument("--out", required=True, help="output folder (the loadable backbone + pretrain.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, init and batch order (default 0)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the recipe's)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/_train/checkpoint.pt")
    p.add_argument("--keep-state", action="store_true", help="keep OUT/_train (checkpoint, init model) at the end")


def run(args) -> int:
    import shlex
    import sys
    from dataclasses import replace

    from ..pretrain.recipe import default_recipe
    from ..pretrain.run import pretrain

    recipe = default_recipe(args.arch)
    if args.steps is not None:
        recipe = replace(recipe, steps=args.steps)
    record = pretrain(
        args.arch, args.out, seed=args.seed, recipe=recipe, threads=args.threads, resume=args.resume,
        keep_state=args.keep_state, command="partpoint " + shlex.join(sys.argv[1:]),
    )
    print(f"pretrained {args.arch} in {record['wall_s']:.0f} s, {record['steps']} steps, "
          f"final loss {record['final_loss']:.3f} -> {args.out}")
    return 0
