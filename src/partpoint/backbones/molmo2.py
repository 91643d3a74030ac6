"""Molmo2: recognised but not usable here.

transformers ships ``models/molmo2`` and its model classes import, but its only image processor is
torchvision-backed (there is no PIL variant), and partpoint must not install torchvision. Loading a
Molmo2 directory therefore fails early with a clear message instead of deep inside the processor.
"""

from __future__ import annotations

from ..errors import BackboneError
from .adapter import Adapter, register_adapter

MOLMO2_UNSUPPORTED = (
    "Molmo2 backbones are not supported: transformers' Molmo2 image processor needs torchvision, which "
    "partpoint does not install; use a llava, qwen2_5_vl, qwen2_vl or paligemma backbone instead"
)


@register_adapter
class Molmo2Adapter(Adapter):
    model_types = ("molmo2",)

    def model_class(self):
        raise BackboneError(MOLMO2_UNSUPPORTED)

    def load_processor(self, path):
        raise BackboneError(MOLMO2_UNSUPPORTED)
