"""``python examples/demo.py`` (``make demo``): ``partpoint point`` on an example image with the default backbone.

Runs ``partpoint point IMAGE "INSTRUCTION" --json --out runs/demo/overlay.png`` on the first sample of
``examples/examples.json`` (its named-part instruction) and prints the point and where the overlay is.
Whatever is missing (a weights package, the pointer) is reported in one line by ``partpoint point`` itself.
"""

from __future__ import annotations

import os
from pathlib import Path

BACKBONE = "default-llava"
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "examples.json"
OUT = REPO / "runs" / "demo"


def demo_example(examples: Path = EXAMPLES) -> tuple[Path, str]:
    """``(image path, instruction)`` of the first example (InstructPart layout, instruction 2: the named part)."""
    from partpoint.data import open_dataset

    sample = open_dataset(f"instructpart:{examples}#2")[0]
    return Path(sample.meta["image_path"]), sample.instruction


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from partpoint.commands import main as cli_main

    hf_logging.disable_progress_bar()
    image, instruction = demo_example()
    overlay = OUT / "overlay.png"
    print(f"partpoint point {image} {instruction!r} --json --out {overlay}")
    status = cli_main(["point", str(image), instruction, "--backbone", BACKBONE, "--json", "--out", str(overlay)])
    if status == 0:
        print(f"overlay (heatmap + point on the image): {overlay}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
