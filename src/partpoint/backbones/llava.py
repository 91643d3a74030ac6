"""LLaVA (CLIP-style vision tower + Llama): the first-generation MLLM.

The image processor optionally pads to a square, resizes (shortest edge, or to a fixed size), and
centre-crops; the vision tower's patch grid tiles the crop, minus the CLS token.
"""

from __future__ import annotations

from ..errors import BackboneError
from .adapter import Adapter, register_adapter
from .geometry import GridGeometry


@register_adapter
class LlavaAdapter(Adapter):
    model_types = ("llava",)

    def model_class(self):
        from transformers import LlavaForConditionalGeneration

        return LlavaForConditionalGeneration

    def text_unit_frame(self, processor) -> str:
        """LLaVA-1.5 was trained with images padded to a square, so its normalised boxes refer to that
        frame; Hugging Face's LLaVA-1.5 processor centre-crops instead. A processor that centre-crops is
        taken to be LLaVA-1.5's (answers in the pad-to-square frame); any other (a pad-to-square or a
        squeezing processor, e.g. default-llava) answers in its own input frame."""
        return "pad_square_unit" if getattr(processor.image_processor, "do_center_crop",
                                            False) else "input_unit"

    def patch_features(self, model, inputs):
        """The vision tower's hidden states at the layer the projector reads, CLS dropped: ``(B, P, C)``
        (one per image token, the pointing grid row-major)."""
        self._check_one_layer(model)
        states = model.model.vision_tower(inputs["pixel_values"], output_hidden_states=True).hidden_states
        return states[model.config.vision_feature_layer][:, 1:]

    def patch_feature_dim(self, model) -> int:
        config = model.config
        return int(getattr(config.vision_config, "hidden_size", 0) or 0) if self._one_layer(config) else 0

    def patch_feature_module(self, model):
        """The projector: it reads exactly :meth:`patch_features`."""
        self._check_one_layer(model)
        return model.model.multi_modal_projector

    @staticmethod
    def _one_layer(config) -> bool:
        """Whether the projector reads one vision layer with the CLS token dropped (the pointing grid)."""
        return config.vision_feature_select_strategy == "default" and isinstance(config.vision_feature_layer,
                                                                                  int)

    def _check_one_layer(self, model) -> None:
        if not self._one_layer(model.config):
            raise BackboneError("vision patch features are read from one vision layer with the CLS token "
                                "dropped; this LLaVA's vision_feature_layer / select strategy differ")

    def geometry(self, processor, inputs, index, image) -> GridGeometry:
        ip = processor.image_processor
        width, height = image.size
        # 1. optional pad to a square (the original sits centred, offset by the smaller side's pad)
        pad_x = pad_y = 0
        if getattr(ip, "do_pad", False) and width != height:
            side = max(width, height)
            pad_x, pad_y = ((side - width) // 2, 0) if height > width else (0, (side - height) // 2)
            width = height = side
        # 2. resize (PIL maps continuous coordinates by the size ratio)
        size = ip.size
        if not ip.do_resize:
            new_h, new_w = height, width
        elif size.get("shortest_edge") and not size.get("longest_edge"):
            short, long = min(width, height), max(width, height)
            new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
            new_h, new_w = (new_long, new_short) if width <= height else (new_short, new_long)
        elif size.get("height") and size.get("width"):
            new_h, new_w = size["height"], size["width"]
        else:
            raise BackboneError(f"LLaVA image processor size {dict(size)} is not supported; use "
                                "shortest_edge or height/width")
        scale = (new_w / width, new_h / height)
        # 3. centre crop (same offsets when the crop is larger and pads instead)
        crop_x = crop_y = 0
        in_w, in_h = new_w, new_h
        if ip.do_center_crop:
            in_w, in_h = ip.crop_size["width"], ip.crop_size["height"]
            crop_x, crop_y = (new_w - in_w) // 2, (new_h - in_h) // 2
        pixel_h, pixel_w = inputs["pixel_values"].shape[-2:]
        if (pixel_w, pixel_h) != (in_w, in_h):
            raise BackboneError(f"expected a {in_w}x{in_h} processed image, the processor made "
                                f"{pixel_w}x{pixel_h}")
        patch = processor.patch_size
        return GridGeometry.from_input_map(
            scale=scale,
            offset=(crop_x - scale[0] * pad_x, crop_y - scale[1] * pad_y),
            grid=(in_h // patch, in_w // patch),
            input_size=(in_w, in_h),
            cell_px=(float(patch), float(patch)),
        )
