"""``partpoint presence``: give a trained pointer a presence head ("is the part in the image at all?")."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "presence"
HELP = ("Add a presence head to a trained pointer: trained alone (pointing is unchanged) on --data and their "
        "negatives, over the vision tower's patch features; then refit `partpoint calibrate` on the result.")


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True,
                   help="backbone directory or default name (e.g. default-llava)")
    p.add_argument("--pointer", default=None, help="the trained pointer (default: the one bundled)")
    p.add_argument("--data", action="append", required=True,
                   help="training dataset spec, repeatable (each also gives --negatives per image)")
    p.add_argument("--negatives", type=int, default=2, help="negatives per training image (default 2)")
    p.add_argument("--val", default=None, help="val dataset spec: its negatives' AUROC picks the best epoch")
    p.add_argument("--val-negatives", type=int, default=4, help="negatives per val image (default 4)")
    p.add_argument("--hold-out", type=int, default=0, metavar="PERCENT",
                   help="hold the images of every --data set whose id hashes into the last PERCENT per cent "
                        "out of training: each is one more val set (a real-photo val from training sets that "
                        "have none); the mean of the val sets' AUROC picks the epoch (default 0)")
    p.add_argument("--out", required=True, help="where to write the pointer with its presence head")
    p.add_argument("--dim", type=int, default=128, help="the presence head's width (default 128)")
    p.add_argument("--epochs", type=int, default=12, help="epochs (default 12)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the head, the batches and the negatives")
    p.add_argument("--cache-dir", default="runs/cache", help="feature cache folder (vision records)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_backbone_options(p)


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    import torch

    from ..backbones import load_backbone
    from ..data import open_dataset
    from ..data.negatives import negatives
    from ..errors import DataError
    from ..io.atomic import atomic_write_json
    from ..pointer import PartPointer
    from ..pointer.model import resolve_pointer_dir
    from ..predictor import Pointer
    from ..training.cache import FeatureCache
    from ..training.items import prepare_items
    from ..training.presence import fit_presence, with_presence_head

    if args.negatives < 1 or args.val_negatives < 1:
        raise DataError("a presence head learns from negatives: pass --negatives / --val-negatives >= 1")
    if not 0 <= args.hold_out < 100:
        raise DataError(f"--hold-out is a percentage in [0, 100), got {args.hold_out}")
    if args.threads:
        torch.set_num_threads(args.threads)
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    if not backbone.vision_dim:
        raise DataError(f"{backbone.name} gives no vision patch features on its grid; a presence head "
                        "cannot read it")
    source = resolve_pointer_dir(backbone.name, args.pointer)
    model = Pointer(backbone=backbone, model=PartPointer.from_pretrained(source)).model  # checks the match
    model = with_presence_head(model, dim=args.dim, vision_dim=backbone.vision_dim, seed=args.seed)

    def items_of(dataset, absent) -> list:
        out = []
        for data in (dataset, absent):
            cache = FeatureCache.build(backbone, data, heads=list(model.identity.heads),
                                       cache_dir=args.cache_dir, progress=not args.quiet, vision=True)
            out += prepare_items(cache.entries(), scale=model.config.upsample)[0]
        return out

    def negatives_of(dataset, per_image: int, spec: str):
        absent = negatives(dataset, per_image=per_image, seed=args.seed)  # drawn from the whole set's classes
        if not len(absent):
            raise DataError(f"{spec!r} has no negatives (one object and part class only); leave it out")
        return absent

    items, val_sets = [], {}
    if args.val:
        val = open_dataset(args.val)
        val_sets[args.val] = items_of(val, negatives_of(val, args.val_negatives, args.val))
    for spec in args.data:
        dataset = open_dataset(spec)
        kept, held = dataset.hold_out(args.hold_out)
        items += items_of(kept, negatives_of(dataset, args.negatives, spec).hold_out(args.hold_out)[0])
        if len(held):
            absent = negatives_of(dataset, args.val_negatives, spec).hold_out(args.hold_out)[1]
            val_sets[f"{spec} (held out)"] = items_of(held, absent)
    val_items = [item for val in val_sets.values() for item in val]
    begin = time.perf_counter()
    model, log = fit_presence(model, items, epochs=args.epochs, lr=args.lr, seed=args.seed,
                              val_items=val_sets, progress=not args.quiet)
    out = model.save_pretrained(Path(args.out))  # without calibration: refit it on these weights
    summary = {"pointer": str(out), "from": str(source), "data": args.data, "negatives": args.negatives,
               "val": args.val, "val_negatives": args.val_negatives, "hold_out_percent": args.hold_out,
               "val_sets": {name: len(val) for name, val in val_sets.items()}, "dim": args.dim, "epochs": log,
               "lr": args.lr, "seed": args.seed, "train_items": len(items), "val_items": len(val_items),
               "wall_s": time.perf_counter() - begin}
    atomic_write_json(out / "presence_log.json", summary)
    print(json.dumps({k: summary[k] for k in ("pointer", "train_items", "val_items", "wall_s")}
                     | {"last_epoch": log[-1]}))
    print(f"next: partpoint calibrate --backbone {args.backbone} --pointer {out} --data VAL")
    return 0
