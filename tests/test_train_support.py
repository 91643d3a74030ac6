"""Helpers shared by the cache and training tests (no tests here): a tiny backbone, tiny SynthParts."""

from __future__ import annotations

from pathlib import Path

import pytest

from partpoint.backbones import load_backbone
from tiny_models import build_tiny_backbone
from partpoint.commands import main as cli_main


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


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """``(backbone_dir, backbone, train_spec, val_spec)`` built once per session."""
    root = tmp_path_factory.mktemp("train_setup")
    backbone_dir = tiny_backbone_dir(root / "llava")
    train = tiny_synth(root / "synth_train", n=4, seed=0)
    val = tiny_synth(root / "synth_val", n=2, seed=1, split="val")
    return backbone_dir, load_backbone(backbone_dir), f"{train}#2", f"{val}#2"
