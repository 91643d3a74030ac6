"""FastVLM: the LLaVA layout with a convolutional vision tower (the method on a non-ViT encoder).

transformers' ``FastVlmForConditionalGeneration`` flattens the tower's last feature map
``(B, C, h, w)`` row-major into ``h * w`` image tokens (no CLS token to drop), projects them with a
2-layer MLP and feeds a Qwen2/Llama language model. The processor is LLaVA's; its ``patch_size`` is the
tower's total stride (32 for MobileNetV2), so feature-map cell ``(i, j)`` is the ``stride x stride``
block of the model input at ``(i, j)``: the geometry is LLaVA's with that stride as the cell size. A
cell's receptive field is wider than its block (a CNN sees its neighbours), as a ViT token's
effective field is; the map says which input block a token is *centred* on.
"""

from __future__ import annotations

from .adapter import register_adapter
from .llava import LlavaAdapter


@register_adapter
class FastVlmAdapter(LlavaAdapter):
    model_types = ("fast_vlm",)

    def model_class(self):
        from transformers import FastVlmForConditionalGeneration

        return FastVlmForConditionalGeneration

    def text_unit_frame(self, processor) -> str:
        return "input_unit"
