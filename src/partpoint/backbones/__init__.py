"""Backbones: load a frozen Hugging Face MLLM and capture its post-RoPE Q/K/V exactly.

``load_backbone(name_or_dir)`` -> :class:`Backbone`; ``bb.encode(image, instruction, layers=[...])``
-> :class:`Features` (see docs/DESIGN.md for the contract and coordinate conventions).
"""

from __future__ import annotations

from . import adapters  # noqa: F401  (every architecture's adapter registers itself)
from .adapter import supported_archs
from .backbone import Backbone, Generation, load_backbone
from .defaults import DEFAULT_BACKBONES
from .features import Features, LayerFeatures
from .geometry import GridGeometry

#: The ``config.model_type`` values partpoint can capture: the adapter registry, nothing restated.
SUPPORTED_ARCHS = tuple(supported_archs())

__all__ = ["DEFAULT_BACKBONES", "SUPPORTED_ARCHS", "Backbone", "Features", "Generation", "GridGeometry",
           "LayerFeatures", "load_backbone"]
