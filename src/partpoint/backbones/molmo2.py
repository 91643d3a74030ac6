"""Molmo2: a SigLIP-style ViT, an attention-pooling adapter, and a Qwen3/OLMo-style language model.

The processor shows the model each image twice: a **global view** (the whole image squeezed to the
``crop_size`` square, patches pooled 2x2 into ``resized_h x resized_w`` tokens) and **high-resolution
crops** (overlapping square crops of a resized canvas, stitched back into one ``h x w`` pooled grid).
The prompt holds ``<low_res_im_start>`` + the global rows + ``<im_end>``, then ``<im_start>`` + the
stitched rows + ``<im_end>``; every grid cell is one ``<im_patch>`` token and each row ends in ``<im_col>``.

partpoint points on the **global view**: its tokens are the first ``resized_h * resized_w``
``<im_patch>`` tokens, and its geometry is one exact affine map (a squeeze to the square, then cells
of ``patch_size * pooling`` input pixels, shifted by the pooling's left/top padding when the patch
count is odd). The stitched grid holds more tokens but its cells come from overlapping crops with
trimmed margins; its keys still inform the text tokens through attention, they are just not the grid.

Image tokens attend to each other bidirectionally (one block in the mask); the capture records the
attention the model really computes, so it stays exact, and early exit is exact as for every model.
The text-pointing format is Molmo's ``<point x= y=>`` in percent of the image (family ``molmo``).
"""

from __future__ import annotations

from ..errors import BackboneError
from .adapter import Adapter, register_adapter
from .geometry import GridGeometry


@register_adapter
class Molmo2Adapter(Adapter):
    model_types = ("molmo2",)
    prefix_reuse = False  # not verified for its two-view image block: one full forward per instruction

    def model_class(self):
        from transformers import Molmo2ForConditionalGeneration

        return Molmo2ForConditionalGeneration

    def image_token_id(self, model, processor) -> int:
        # the ``<|image|>`` placeholder expands into ``<im_patch>`` tokens
        return int(model.config.image_patch_id)

    def grid_positions(self, image_positions, geometry):
        """The global view's tokens: the first ``P_h * P_w`` ``<im_patch>`` tokens."""
        p_h, p_w = geometry.grid
        return image_positions[: p_h * p_w]

    def geometry(self, processor, inputs, index, image) -> GridGeometry:
        ip = processor.image_processor
        crop = int(ip.size["height"])
        if int(ip.size["width"]) != crop:
            raise BackboneError(f"Molmo2 image processor size {dict(ip.size)} is not square; its global "
                                "view needs a square")
        grid_h, grid_w = (int(n) for n in inputs["image_grids"][index][:2])  # pooled global-view grid
        pool_h, pool_w = (int(n) for n in ip.pooling_size)
        patches = crop // int(ip.patch_size)
        pad_top = (pool_h * grid_h - patches) // 2  # arange_for_pooling pads the patch grid, half before
        pad_left = (pool_w * grid_w - patches) // 2
        patch = float(ip.patch_size)
        width, height = image.size
        return GridGeometry.from_input_map(
            scale=(crop / width, crop / height),
            offset=(-pad_left * patch, -pad_top * patch),
            grid=(grid_h, grid_w),
            input_size=(crop, crop),
            cell_px=(patch * pool_w, patch * pool_h),
        )
