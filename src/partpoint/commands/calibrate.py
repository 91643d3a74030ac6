"""``partpoint calibrate``: fit a pointer's confidence and presence threshold on a val split."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "calibrate"
HELP = ("Fit a pointer's calibrated confidence and its 'not in the image' threshold on val data and its "
        "negatives; writes calibration.json beside the pointer's weights.")


def add_arguments(p) -> None:
    p.add_argument("--backbone", required=True,
                   help="backbone directory or default name (e.g. default-llava)")
    p.add_argument("--pointer", default=None,
                   help="pointer directory to calibrate (default: the one bundled for the backbone)")
    p.add_argument("--data", action="append", required=True,
                   help="val dataset spec, never a test split; repeatable: the sets are pooled (e.g. "
                        "SynthParts val and the real photos held out of `partpoint presence --hold-out 10`: "
                        "carparts:PATH%%held10)")
    p.add_argument("--negatives", type=int, default=2,
                   help="negatives per val image: instructions naming something the image does not show "
                        "(default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the negatives' draw (default 0)")
    p.add_argument("--cache-dir", default="runs/calibrate/cache", help="feature cache folder")
    p.add_argument("--plot", default=None, help="also write the val reliability diagram to this PNG")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_backbone_options(p)


def run(args) -> int:
    import json
    from pathlib import Path

    from ..backbones import load_backbone
    from ..data import open_dataset
    from ..data.negatives import negatives
    from ..errors import DataError
    from ..pointer import PartPointer
    from ..pointer.confidence import CALIBRATION_NAME, weights_digest
    from ..pointer.model import resolve_pointer_dir
    from ..predictor import Pointer
    from ..training.cache import FeatureCache
    from ..training.calibrate import example_signals, fit_calibration, set_signals
    from ..training.items import prepare_items

    if args.negatives < 1:
        raise DataError(f"--negatives {args.negatives}: the presence threshold needs at least 1 per image")
    datasets = {spec: open_dataset(spec) for spec in args.data}
    absent = {spec: negatives(data, per_image=args.negatives, seed=args.seed)
              for spec, data in datasets.items()}
    lacking = [spec for spec, made in absent.items() if not len(made)]
    if lacking:
        raise DataError(f"{lacking[0]!r} has no negatives (one object and part class only); calibrate on a "
                        "val set with several classes")
    backbone = load_backbone(args.backbone, **backbone_kwargs(args))
    directory = resolve_pointer_dir(backbone.name, args.pointer)
    model = Pointer(backbone=backbone, model=PartPointer.from_pretrained(directory)).model  # checks the match

    def items_of(data) -> list:
        cache = FeatureCache.build(backbone, data, heads=list(model.identity.heads), cache_dir=args.cache_dir,
                                   progress=not args.quiet, vision=model.reads_vision)
        return prepare_items(cache.entries(), scale=model.config.upsample)[0]

    val = {spec: items_of(dataset) for spec, dataset in datasets.items()}
    signals = set_signals(model, {spec: (items, items_of(absent[spec])) for spec, items in val.items()})
    examples = ({spec: example_signals(model, items, seed=args.seed) for spec, items in val.items()}
                if model.reads_vision else None)  # a reference alone: its items carry the vision patches
    calibration = fit_calibration(signals, examples=examples,
                                  fitted={"data": args.data, "seed": args.seed,
                                          "negatives_per_image": args.negatives})
    calibration.weights_sha256 = weights_digest(directory)
    from ..io.atomic import atomic_write_text

    atomic_write_text(Path(directory) / CALIBRATION_NAME, calibration.to_json())
    if args.plot:
        from ..evaluation.metrics import reliability
        from ..io.viz import reliability_figure

        curves = {datasets[spec].name: reliability(calibration.confidence(val), hits)
                  for spec, (val, hits, _) in signals.items()}
        reliability_figure(curves, args.plot, title="Reliability on val")
    print(json.dumps({"calibration": str(Path(directory) / CALIBRATION_NAME), **calibration.fitted,
                      "threshold": calibration.threshold}, indent=1))
    return 0
