"""``partpoint point IMAGE "INSTRUCTION" ["INSTRUCTION" ...]``: a point per instruction in original pixels,
optionally an overlay PNG. Several instructions share one encode of the image prefix."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "point"
HELP = "Point at the part an instruction asks for in an image (prints x, y in original pixels)."


def add_arguments(p) -> None:
    p.add_argument("image", help="image file (any format PIL reads; EXIF orientation is applied)")
    p.add_argument("instruction", nargs="+",
                   help='what to point at, e.g. "Point to the handle of the mug."; several: one point each')
    p.add_argument("--backbone", default="default-llava", help="default backbone name or model directory")
    p.add_argument("--pointer", default=None, help="pointer directory (default: the one bundled for the backbone)")
    p.add_argument("--out", default=None, help="write the image with the heatmap and the point drawn on it (PNG)")
    p.add_argument("--json", action="store_true",
                   help='print {"x", "y", "score", "width", "height"} as JSON (a list for several instructions)')
    add_backbone_options(p)


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from ..errors import ImageError
    from ..images import check_instruction, load_image

    image = load_image(args.image)  # bad input fails before the model loads
    instructions = [check_instruction(text) for text in args.instruction]

    import torch
    from transformers.utils import logging as hf_logging

    from ..api import load_pointer

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    bound = load_pointer(args.backbone, args.pointer, **backbone_kwargs(args))
    several = len(instructions) > 1
    results = bound.point(image, instructions) if several else [bound.point(image, instructions[0])]
    records = [{"x": r.x, "y": r.y, "score": r.score, "width": r.width, "height": r.height} for r in results]
    if args.json:
        print(json.dumps([{"instruction": t, **rec} for t, rec in zip(instructions, records)] if several else records[0]))
    else:
        for text, result in zip(instructions, results):
            prefix = f"{text!r}: " if several else ""
            print(f"{prefix}point ({result.x:.1f}, {result.y:.1f}) in the {result.width}x{result.height} image, "
                  f"score {result.score:.3f}")
    if args.out:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            overlay = bound.overlay_many(image, instructions, results) if several else \
                bound.overlay(image, instructions[0], results[0])
            overlay.save(out, format="PNG")
        except OSError as error:
            raise ImageError(f"cannot write the overlay to {out} ({error.strerror or error}); pick a writable path") from None
        print(f"overlay written to {out}", file=sys.stderr if args.json else sys.stdout)
    return 0
