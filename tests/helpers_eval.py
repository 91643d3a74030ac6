"""Shared builders for the evaluation / point CLI / viz tests: a tiny LLaVA, pointers, small datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from partpoint.data import Sample

WIDTH, HEIGHT = 120, 80  # LLaVA (64 px, 16 px patches) crops the centre 80 x 80: x in [20, 100)


def build_llava(path: Path, *, seed: int = 0) -> Path:
    from tiny_models import build_tiny_backbone

    return build_tiny_backbone(
        "llava", path, seed=seed, image_size=64, patch_size=16, vision_hidden=32, vision_layers=1,
        text_hidden=32, text_layers=2, text_heads=2, text_kv_heads=1,
    )


def save_pointer(backbone, path: Path, *, seed: int = 0) -> Path:
    """An untrained PartPointer for ``backbone`` saved to ``path`` (plumbing only)."""
    from partpoint.pointer import PartPointer, PointerConfig

    torch.manual_seed(seed)
    config = PointerConfig(
        backbone=backbone.name, fingerprint=backbone.fingerprint, heads=[(0, 0), (1, 1)],
        head_dim=backbone.head_dim, num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 8),
        detach_attn=False, a2p_residual=False, padding="zeros",
    )
    PartPointer(config).save_pretrained(path)
    return path


def picture(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8))


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def sample(mask: np.ndarray, *, category: str = "mug:handle", key: str = "s0", seed: int = 0,
           instruction: str = "Point to the handle of the mug.") -> Sample:
    obj, part = category.split(":")
    return Sample(image=picture(seed), instruction=instruction, mask=mask, object=obj, part=part,
                  category=category, meta={"key": key})


def write_instructpart(root: Path, masks: dict[str, tuple[str, np.ndarray]]) -> Path:
    """A SynthParts-style folder (``instructpart_test.json``, images/, masks/): ``stem -> (category, mask)``."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    entries = []
    for n, (stem, (category, mask)) in enumerate(masks.items()):
        picture(n).save(root / "images" / f"{stem}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{stem}.png")
        obj, part = category.split(":")
        texts = [f"Where would you hold the {obj}?", f"Grab the {obj}.", f"The {part} of the {obj}.",
                 f"The {part} of the {obj} to hold.", f"{obj} {part}", f"{obj} {part} hold"]
        entries.append({"image_path": f"{stem}.png", "part_list": [
            {"object": obj, "part": part, "affordance": "hold", "action": "hold", "instruction": texts}]})
    (root / "instructpart_test.json").write_text(json.dumps(entries))
    return root
