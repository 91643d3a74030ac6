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
    p.add_argument("--out", required=True, help="where to write the pointer with its presence head")
    p.add_argument("--dim", type=int, default=128, help="the presence head's width (default 128)")
    p.add_argument("--epochs", type=int, default=12, help="epochs (default 12)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the head, the batches and the negatives")
    p.add_argument("--cache-dir", default="runs/presence/cache", help="feature cache folder (vision records)")
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
    if args.threads:
        torch.set_num_threads(args.threads)
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    if not backbone.vision_dim:
        raise DataError(f"{backbone.name} gives no vision patch features on its grid; a presence head "
                        "cannot read it")
    source = resolve_pointer_dir(backbone.name, args.pointer)
    model = Pointer(backbone=backbone, model=PartPointer.from_pretrained(source)).model  # checks the match
    model = with_presence_head(model, dim=args.dim, vision_dim=backbone.vision_dim, seed=args.seed)

    def items_of(spec: str, per_image: int) -> list:
        dataset = open_dataset(spec)
        absent = negatives(dataset, per_image=per_image, seed=args.seed)
        if not len(absent):
            raise DataError(f"{spec!r} has no negatives (one object and part class only); leave it out")
        out = []
        for data in (dataset, absent):
            cache = FeatureCache.build(backbone, data, heads=list(model.identity.heads),
                                       cache_dir=args.cache_dir, progress=not args.quiet, vision=True)
            out += prepare_items(cache.entries(), scale=model.config.upsample)[0]
        return out

    items = [item for spec in args.data for item in items_of(spec, args.negatives)]
    val_items = items_of(args.val, args.val_negatives) if args.val else []
    begin = time.perf_counter()
    model, log = fit_presence(model, items, epochs=args.epochs, lr=args.lr, seed=args.seed,
                              val_items=val_items, progress=not args.quiet)
    out = model.save_pretrained(Path(args.out))  # without calibration: refit it on these weights
    summary = {"pointer": str(out), "from": str(source), "data": args.data, "negatives": args.negatives,
               "val": args.val, "val_negatives": args.val_negatives, "dim": args.dim, "epochs": log,
               "lr": args.lr, "seed": args.seed, "train_items": len(items), "val_items": len(val_items),
               "wall_s": time.perf_counter() - begin}
    atomic_write_json(out / "presence_log.json", summary)
    print(json.dumps({k: summary[k] for k in ("pointer", "train_items", "val_items", "wall_s")}
                     | {"last_epoch": log[-1]}))
    print(f"next: partpoint calibrate --backbone {args.backbone} --pointer {out} --data VAL")
    return 0
