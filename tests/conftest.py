"""Shared test settings and fixtures: offline, deterministic, small thread pool (CI has 2 cores)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: recipe/ and benchmarks/
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from partpoint.data.paths import SHARED_DATA  # noqa: E402


@pytest.fixture(scope="session")
def shared_data():
    """Path of the shared real photos (``partpoint.data.paths``); tests that need it skip where it is
    absent."""
    path = str(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """``(backbone_dir, backbone, train_spec, val_spec)``: a tiny LLaVA and tiny SynthParts splits, once."""
    from helpers import tiny_backbone_dir, tiny_synth
    from partpoint.backbones import load_backbone

    root = tmp_path_factory.mktemp("train_setup")
    backbone_dir = tiny_backbone_dir(root / "llava")
    train = tiny_synth(root / "synth_train", n=4, seed=0)
    val = tiny_synth(root / "synth_val", n=2, seed=1, split="val")
    return backbone_dir, load_backbone(backbone_dir), f"{train}#2", f"{val}#2"
