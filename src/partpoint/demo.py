"""``python -m partpoint.demo`` (``make demo``): encode an image and print the native attention peak.

Uses the bundled ``default-llava`` backbone when it exists; otherwise builds (once, cached under
``~/.cache/partpoint/``) a tiny random-weight LLaVA, so the peak is only a plumbing check there.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

INSTRUCTION = "Point to the handle of the red mug."
CACHE = Path(os.environ.get("PARTPOINT_CACHE", Path.home() / ".cache" / "partpoint"))


def demo_image():
    """The first image in ``examples/`` if any, else a drawn red mug with a handle on the right."""
    from PIL import Image, ImageDraw

    examples = Path(__file__).resolve().parents[2] / "examples"
    found = sorted(p for p in examples.glob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}) if examples.is_dir() else []
    if found:
        return found[0]
    image = Image.new("RGB", (480, 360), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 110, 290, 290), fill=(200, 30, 30))  # body
    draw.ellipse((270, 150, 350, 250), outline=(200, 30, 30), width=16)  # handle
    return image


def demo_backbone():
    """``default-llava`` if built, else the cached tiny LLaVA (built on first use)."""
    from .backbones import build_tiny_backbone, load_backbone
    from .backbones.defaults import default_dir

    if (default_dir("default-llava") / "config.json").is_file():
        return load_backbone("default-llava")
    tiny = CACHE / "tiny-llava"
    if not (tiny / "config.json").is_file():
        print(f"default-llava is not built; building a tiny random-weight LLaVA in {tiny} (once)")
        build_tiny_backbone("llava", tiny)
    return load_backbone(tiny)


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers.utils import logging as hf_logging

    from .errors import PartPointError

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        bb = demo_backbone()
        image = demo_image()
        layer = bb.num_layers // 2
        feats = bb.encode(image, INSTRUCTION, layers=[layer])
    except PartPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    attn = feats.layers[layer].attn_last.mean(0)  # (P,) head-averaged
    p_h, p_w = feats.grid
    row, col = divmod(int(attn.argmax()), p_w)
    x, y = feats.to_image_xy(col + 0.5, row + 0.5)
    w, h = feats.image_size
    print(f"backbone: {bb.name} ({bb.arch}, {bb.num_layers} layers, fingerprint {bb.fingerprint})")
    print(f"instruction: {INSTRUCTION!r} on a {w}x{h} image; grid {p_h}x{p_w}; layer {layer}")
    print(f"native attention peak of the final prompt token: cell (row {row}, col {col}) "
          f"-> pixel ({float(x):.1f}, {float(y):.1f}) [{time.perf_counter() - start:.1f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
