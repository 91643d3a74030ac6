"""PaliGemma (SigLIP + Gemma): the image is resized to a fixed square (aspect not kept), no crop.

No chat template: the prompt is ``<image>`` + instruction; the processor inserts ``<bos>`` after the
image tokens and a trailing newline. Image and prefix attend bidirectionally (prefix-LM mask).
"""

from __future__ import annotations

from .adapter import Adapter, register_adapter
from .geometry import GridGeometry


@register_adapter
class PaliGemmaAdapter(Adapter):
    model_types = ("paligemma",)
    prefix_reuse = False  # the prefix (image AND instruction) attends bidirectionally

    def model_class(self):
        from transformers import PaliGemmaForConditionalGeneration

        return PaliGemmaForConditionalGeneration

    def prompt(self, processor, instruction: str) -> str:
        return self.plain_prompt(processor, instruction)

    def plain_prompt(self, processor, instruction: str) -> str:
        return f"{processor.image_token}{instruction}"

    def process(self, processor, images, prompts):
        inputs = super().process(processor, images, prompts)
        inputs.pop("labels", None)  # the processor adds training labels; inference needs none
        return inputs

    def geometry(self, processor, inputs, index, image) -> GridGeometry:
        in_h, in_w = inputs["pixel_values"].shape[-2:]
        side = int(round((processor.image_seq_length) ** 0.5))
        width, height = image.size
        return GridGeometry.from_input_map(scale=(in_w / width, in_h / height), offset=(0.0, 0.0),
                                           grid=(side, side), input_size=(int(in_w), int(in_h)),
                                           cell_px=(in_w / side, in_h / side))
