"""The Python pointing API: ``load_pointer(backbone=..., pointer=...)`` -> a pointer bound to its backbone.

    pointer = partpoint.load_pointer()                       # default-llava + its bundled pointer
    result = pointer.point("mug.jpg", "Point to the handle of the mug.")
    result.x, result.y                                         # original image pixels

A pointer trained for a backbone lives in ``src/partpoint/assets/pointers/<backbone name>/`` when it
is bundled; any other pointer is a directory written by ``PartPointer.save_pretrained``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CheckpointError, InstructionError
from .images import ImageLike, check_instruction, load_image

#: Bundled pointers, one folder per backbone name.
POINTERS = Path(__file__).resolve().parent / "assets" / "pointers"
DEFAULT_BACKBONE = "default-llava"


def bundled_pointer_dir(backbone_name: str) -> Path:
    """Where the pointer bundled for ``backbone_name`` lives (it may not exist)."""
    return POINTERS / backbone_name


def pointer_is_bundled(backbone_name: str) -> bool:
    return (bundled_pointer_dir(backbone_name) / "config.json").is_file()


def resolve_pointer_dir(backbone_name: str, pointer: str | os.PathLike | None) -> Path:
    """``pointer`` as a directory, or the bundled one for ``backbone_name``; CheckpointError if absent."""
    if pointer is None:
        path = bundled_pointer_dir(backbone_name)
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"no pointer is bundled for backbone {backbone_name!r} (looked in {path}); train one with "
                f"`partpoint train --backbone {backbone_name} --data DATA --out {path}` or pass --pointer DIR"
            )
        return path
    path = Path(pointer).expanduser()
    if not path.is_dir():
        raise CheckpointError(
            f"pointer directory not found: {path}; pass a folder written by `partpoint train` (config.json + model.safetensors)"
        )
    return path


def load_pointer_for(backbone, pointer=None):
    """A ``PartPointer`` for a loaded ``backbone``: ``pointer`` may be a PartPointer, a directory or None
    (the bundled one). Raises :class:`CheckpointError` when it belongs to another backbone."""
    from .pointer import PartPointer

    if isinstance(pointer, PartPointer):
        if pointer.config.fingerprint != backbone.fingerprint:
            raise CheckpointError(
                f"pointer was trained on backbone {pointer.config.backbone!r} (fingerprint {pointer.config.fingerprint}) "
                f"but got {backbone.name!r} (fingerprint {backbone.fingerprint}); use the matching backbone or retrain"
            )
        return pointer.eval()
    directory = resolve_pointer_dir(backbone.name, pointer)
    return PartPointer.from_pretrained(directory, backbone=backbone).eval()


class BoundPointer:
    """A trained pointer and the frozen backbone it was trained on. Build it with :func:`load_pointer`."""

    def __init__(self, *, backbone, pointer):
        from .geometry_cache import GeometryCache

        self.backbone = backbone
        self.pointer = pointer
        self._geometry = GeometryCache(backbone)

    def __repr__(self) -> str:
        return f"BoundPointer(backbone={self.backbone.name!r}, heads={self.pointer.config.heads})"

    def point(self, image: ImageLike, text):
        """Point at the part ``text`` asks for -> ``PointResult`` (x, y in ORIGINAL image pixels, score,
        heatmap ``(P_h * s, P_w * s)`` probabilities over the processed region, width, height).
        A list of instructions gives a list of results; the image prefix is encoded once for all."""
        image = load_image(image)
        if isinstance(text, str):
            return self.pointer.point(self.backbone, image, check_instruction(text))
        texts = [check_instruction(t) for t in text]
        if not texts:
            raise InstructionError("no instructions given; pass at least one")
        return self.pointer.point(self.backbone, image, texts)

    def geometry(self, image: ImageLike):
        """The ``GridGeometry`` of ``image`` for this backbone (what places the heatmap on the image)."""
        return self._geometry(load_image(image))

    def overlay(self, image: ImageLike, text: str, result=None):
        """The image with the heatmap, the point and ``text`` drawn on it (a PIL image of the same size)."""
        from .viz import draw_overlay

        image = load_image(image)
        result = result if result is not None else self.point(image, text)
        return draw_overlay(image, result, geometry=self._geometry(image), caption=check_instruction(text))

    def overlay_many(self, image: ImageLike, texts, results=None):
        """Several instructions on one image: a colour per instruction (heatmap tint, marker, legend line)."""
        from .viz import draw_points_overlay

        image = load_image(image)
        texts = [check_instruction(t) for t in texts]
        results = results if results is not None else self.point(image, texts)
        return draw_points_overlay(image, results, texts, geometry=self._geometry(image))


def load_pointer(backbone=DEFAULT_BACKBONE, pointer=None, *, device: str = "cpu", dtype="auto") -> BoundPointer:
    """Load ``backbone`` (a default name, a model directory, or a loaded ``Backbone``) and ``pointer``
    (a directory, a ``PartPointer``, or None for the one bundled with the backbone). ``dtype`` of the
    backbone: ``"auto"`` (bf16 where it is fast, else float32), or a name / ``torch.dtype``.

    Raises:
        BackboneError: the backbone cannot be loaded.
        CheckpointError: the pointer is missing, corrupt, or was trained on another backbone.
    """
    from .backbones import Backbone, load_backbone

    if isinstance(pointer, str | os.PathLike):
        resolve_pointer_dir("", pointer)  # a missing directory fails before the (slow) model load
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(backbone, device=device, dtype=dtype)
    return BoundPointer(backbone=backbone, pointer=load_pointer_for(backbone, pointer))
