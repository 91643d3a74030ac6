"""``python examples/demo.py`` (``make demo``): ``partpoint point`` on a real photo with the default backbone.

Runs ``partpoint point IMAGE "INSTRUCTION" --json --out runs/demo/overlay.png`` on the first photo of
``examples/photos/photos.json`` (a Clothing Co-Parsing test photo, Apache-2.0: see examples/README.md), prints
the point, whether it lies in the photo's annotated part, and where the overlay is. Whatever is missing (a
weights package, the pointer) is reported in one line by ``partpoint point`` itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

BACKBONE = "default-llava"
REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "examples" / "photos"
OUT = REPO / "runs" / "demo"


def demo_photo(photos: Path = PHOTOS) -> dict:
    """The first entry of ``photos.json`` with absolute ``image`` and ``mask`` paths."""
    entry = json.loads((photos / "photos.json").read_text())[0]
    return {**entry, "image": photos / entry["image"], "mask": photos / entry["mask"]}


def lies_in(point: dict, mask_path: Path) -> bool:
    """Whether the printed point lies in the part mask (a PNG, inside where > 0)."""
    import numpy as np
    from PIL import Image

    mask = np.asarray(Image.open(mask_path)) > 0
    row, col = min(int(point["y"]), mask.shape[0] - 1), min(int(point["x"]), mask.shape[1] - 1)
    return bool(mask[row, col])


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from partpoint.commands import main as cli_main

    hf_logging.disable_progress_bar()
    photo = demo_photo()
    overlay = OUT / "overlay.png"
    print(f"partpoint point {photo['image'].relative_to(REPO)} {photo['instruction']!r} --json --out {overlay}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli_main(["point", str(photo["image"]), photo["instruction"], "--backbone", BACKBONE, "--json",
                           "--out", str(overlay)])
    print(printed.getvalue(), end="")
    if status == 0:
        point = json.loads(next(line for line in printed.getvalue().splitlines() if line.startswith("{")))
        if point["x"] is None:  # the pointer calls the part absent; judge its best guess all the same
            print("the pointer says 'not found' (presence below its threshold); its best guess:")
            point = dict(zip(("x", "y"), point["best_guess"]))
        verdict = "a hit" if lies_in(point, photo["mask"]) else "a miss"
        print(f"{verdict}: the point {'lies' if verdict == 'a hit' else 'does not lie'} in the annotated "
              f"{photo['part']} ({photo['source']})")
        print(f"overlay (heatmap + point on the image): {overlay}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
