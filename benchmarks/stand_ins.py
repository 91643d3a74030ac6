"""Tiny random backbones and pointers trained in seconds: what ``--tiny`` benchmarks instead of the
defaults (for tests and smoke runs). Their numbers say nothing about the method."""

from __future__ import annotations

from pathlib import Path

TINY_ARCHS = {"tiny-llava": "llava"}


def tiny_backbone_dir(work_dir: Path, name: str) -> Path:
    """Build (once) a 3-layer random backbone for ``name`` in ``TINY_ARCHS``."""
    from tests.tiny_models import build_tiny_backbone

    folder = Path(work_dir) / "tiny" / name
    if not (folder / "config.json").is_file():
        build_tiny_backbone(TINY_ARCHS[name], folder, image_size=112, patch_size=14, text_layers=3, text_heads=4,
                            min_pixels=112 * 112, max_pixels=112 * 112)
    return folder


def tiny_pointer_dir(work_dir: Path, name: str, backbone, train_spec: str) -> Path:
    """Train (once) a small pointer for the tiny ``backbone`` on ``train_spec``."""
    from partpoint.data import open_dataset
    from partpoint.training import TrainConfig, train_pointer

    folder = Path(work_dir) / "tiny" / f"{name}-pointer"
    if not (folder / "config.json").is_file():
        config = TrainConfig.of(epochs=2, batch_size=4, num_heads=3, select_samples=4, num_latents=4, depth=1,
                                decoder_dim=16, stage_dims=(16, 16), progress=False)
        train_pointer(backbone, open_dataset(train_spec), out_dir=folder, config=config)
    return folder
