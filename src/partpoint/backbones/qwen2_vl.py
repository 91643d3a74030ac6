"""Qwen2-VL: dynamic resolution (aspect kept, sides rounded to multiples of 28) and 2x2 patch merging.

The processor (the stock one, loaded by ``AutoProcessor``) resizes only (no crop, no pad) and reports
the patch grid in ``image_grid_thw``; the token grid is that grid merged 2x2, row-major. The vision tower's
patch features on that grid (point by example, presence and vision heads) are its merged output, the image
tokens the LM reads (Qwen2.5-VL's windowed tower returns them in row-major order too).
"""

from __future__ import annotations

import torch

from ..errors import BackboneError
from .adapter import Adapter, register_adapter
from .geometry import GridGeometry


@register_adapter
class Qwen2VLAdapter(Adapter):
    model_types = ("qwen2_vl",)
    arch = "qwen2_vl"

    def model_class(self):
        from transformers import Qwen2VLForConditionalGeneration

        return Qwen2VLForConditionalGeneration

    def position_ids(self, model, inputs):
        """Qwen's 3-D (temporal, height, width) rope positions ``(3, B, S)`` of the whole prompt."""
        return model.model.get_rope_index(inputs["input_ids"], inputs.get("mm_token_type_ids"),
                                          image_grid_thw=inputs["image_grid_thw"],
                                          attention_mask=inputs["attention_mask"])[0]

    def image_inputs(self, inputs, index: int) -> dict:
        """One image's patches: ``pixel_values`` holds every image's flattened patches back to back."""
        sizes = inputs["image_grid_thw"].prod(-1).tolist()
        start = int(sum(sizes[:index]))
        return {"pixel_values": inputs["pixel_values"][start : start + int(sizes[index])],
                "image_grid_thw": inputs["image_grid_thw"][index : index + 1]}

    def plain_prompt(self, processor, instruction: str) -> str:
        return f"<|vision_start|>{processor.image_token}<|vision_end|>{instruction}"

    def geometry(self, processor, inputs, index, image) -> GridGeometry:
        ip = processor.image_processor
        _, grid_h, grid_w = (int(n) for n in inputs["image_grid_thw"][index])  # patches, before merging
        merge, patch = ip.merge_size, ip.patch_size
        if grid_h % merge or grid_w % merge:
            raise BackboneError(f"Qwen patch grid {grid_h}x{grid_w} is not divisible by the merge size "
                                f"{merge}")
        in_w, in_h = grid_w * patch, grid_h * patch  # the smart-resized image
        width, height = image.size
        return GridGeometry.from_input_map(
            scale=(in_w / width, in_h / height),
            offset=(0.0, 0.0),
            grid=(grid_h // merge, grid_w // merge),
            input_size=(in_w, in_h),
            cell_px=(float(patch * merge), float(patch * merge)),
        )

    def patch_features(self, model, inputs):
        """The vision tower's merged patch features ``(1, P, C)`` (C: the LM's width), row-major."""
        visual = model.model.visual
        output = visual(inputs["pixel_values"].to(visual.dtype), grid_thw=inputs["image_grid_thw"])
        return output.pooler_output[None]

    def patch_feature_dim(self, model) -> int:
        return int(model.model.visual.merger.mlp[-1].out_features)

    def capture_patch_features(self, model, sink: list):
        """A forward hook on the vision tower: its merged output, split into one ``(P, C)`` per image."""
        visual = model.model.visual

        def grab(_module, args, kwargs, output):
            grid = kwargs["grid_thw"] if "grid_thw" in kwargs else args[1]  # (images, 3): t, h, w patches
            sizes = (grid.prod(-1) // visual.spatial_merge_size**2).tolist()
            sink.append([p.detach().float().cpu() for p in torch.split(output.pooler_output, sizes)])

        return visual.register_forward_hook(grab, with_kwargs=True)
