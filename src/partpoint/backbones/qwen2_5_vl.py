"""Qwen2.5-VL: same processor and grid as Qwen2-VL (see qwen2_vl.py); a windowed vision tower."""

from __future__ import annotations

from .adapter import register_adapter
from .qwen2_vl import Qwen2VLAdapter


@register_adapter
class Qwen2_5_VLAdapter(Qwen2VLAdapter):
    model_types = ("qwen2_5_vl",)
    arch = "qwen2_5_vl"

    def model_class(self):
        from transformers import Qwen2_5_VLForConditionalGeneration

        return Qwen2_5_VLForConditionalGeneration
