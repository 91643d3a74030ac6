"""partpoint: part-level point grounding for any open-source MLLM, backbone frozen.

Pipeline, one subpackage a stage: io (images, overlays, atomic writes) -> backbones (capture Q/K/V) ->
heads (localization-head selection) -> pointer (Q-Synth, A2P decoder) -> losses (patch BCE, asymmetric
SDF) -> data -> training (feature cache, loop) -> predictor (``Pointer``) -> evaluation (metrics,
methods) -> commands (the CLI) and web.
"""

from __future__ import annotations

from .errors import (
    BackboneError,
    CaptureError,
    CheckpointError,
    DataError,
    ImageError,
    InstructionError,
    LayerError,
    PartPointError,
)
from .io.images import check_instruction, load_image

__version__ = "0.1.0"

__all__ = [
    "BackboneError", "CaptureError", "CheckpointError", "DataError", "ImageError", "InstructionError",
    "LayerError", "PartPointError", "check_instruction", "load_backbone", "load_image", "load_pointer",
    "Pointer", "Example"
]


def __getattr__(name: str):
    # Lazy: importing partpoint must not import torch/transformers.
    if name == "load_backbone":
        from .backbones import load_backbone

        return load_backbone
    if name in ("load_pointer", "Pointer"):
        from . import predictor

        return getattr(predictor, name)
    if name == "Example":
        from .example import Example

        return Example
    if name == "PartPointer":
        from .pointer import PartPointer

        return PartPointer
    raise AttributeError(f"module 'partpoint' has no attribute {name!r}")
