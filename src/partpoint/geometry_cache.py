"""The grid geometry of an image for a backbone without running the model, cached per image size.

The processors partpoint supports (LLaVA resize + centre crop, PaliGemma square resize, Qwen's
dynamic resize) derive the processed image only from the original ``(W, H)``, so one geometry per
image size is exact. Computing it runs the processor (tokenizer + image transform), never the model.
"""

from __future__ import annotations

_PROBE_INSTRUCTION = "Point to the part."


class GeometryCache:
    """``cache(image) -> GridGeometry`` for one backbone; the processor runs once per distinct image size.

    ``cache.remember(size, geometry)`` stores a geometry already known (e.g. from ``Features``).
    """

    def __init__(self, backbone):
        self.backbone = backbone
        self._by_size: dict[tuple[int, int], object] = {}

    def remember(self, size: tuple[int, int], geometry) -> None:
        self._by_size.setdefault((int(size[0]), int(size[1])), geometry)

    def __call__(self, image):
        """``image``: a PIL image (already loaded, upright) -> its ``GridGeometry``."""
        size = (int(image.width), int(image.height))
        if size not in self._by_size:
            _, _, geometries = self.backbone._inputs([image], [_PROBE_INSTRUCTION])
            self._by_size[size] = geometries[0]
        return self._by_size[size]
