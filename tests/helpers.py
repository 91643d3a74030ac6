"""Shared test helpers: tiny LLaVAs and SynthParts splits, untrained pointers, small datasets, the demo
script."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from partpoint.commands import main as cli_main
from partpoint.data import Sample
from tiny_models import build_tiny_backbone

_DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
_spec = importlib.util.spec_from_file_location("partpoint_demo", _DEMO)
demo = importlib.util.module_from_spec(_spec)  # ``examples/demo.py`` (the ``make demo`` script) as a module
_spec.loader.exec_module(demo)

WIDTH, HEIGHT = 120, 80  # LLaVA (64 px, 16 px patches) crops the centre 80 x 80: x in [20, 100)


def build_llava(path: Path, *, seed: int = 0) -> Path:
    return build_tiny_backbone("llava", path, seed=seed, image_size=64, patch_size=16, vision_hidden=32,
                               vision_layers=1, text_hidden=32, text_layers=2, text_heads=2, text_kv_heads=1)


def save_pointer(backbone, path: Path, *, seed: int = 0) -> Path:
    """An untrained PartPointer for ``backbone`` saved to ``path`` (plumbing only)."""
    from partpoint.pointer import PartPointer, PointerConfig, PointerIdentity

    torch.manual_seed(seed)
    config = PointerConfig(num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 8), detach_attn=False,
                           a2p_residual=False, padding="zeros")
    PartPointer(config, PointerIdentity.of(backbone, [(0, 0), (1, 1)])).save_pretrained(path)
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
    """A SynthParts-style folder (``instructpart_test.json``, images/, masks/): ``stem -> (category,
    mask)``."""
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


class CountingBackbone:
    """Wraps a backbone and counts ``encode_batch`` calls; ``fail_after`` raises after that many calls."""

    def __init__(self, backbone, *, fail_after: int | None = None):
        self._backbone = backbone
        self.calls = 0
        self.fail_after = fail_after

    def encode_batch(self, images, instructions, **kw):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        return self._backbone.encode_batch(images, instructions, **kw)

    def __getattr__(self, name):
        return getattr(self._backbone, name)


def tiny_backbone_dir(root: Path) -> Path:
    """A 3-layer random LLaVA on an 8x8 grid (112 px, 14 px patches)."""
    return build_tiny_backbone("llava", root, image_size=112, patch_size=14, text_layers=3, text_heads=4)


def tiny_synth(root: Path, *, n: int = 4, seed: int = 0, split: str = "train") -> Path:
    """A SynthParts split of ``n`` scenes written by ``partpoint synth``."""
    assert cli_main(["synth", "--out", str(root), "--split", split, "--n", str(n), "--seed", str(seed),
                     "--workers", "1", "--quiet"]) == 0
    return root
