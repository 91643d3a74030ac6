"""The predictor: ``load_pointer(backbone=..., pointer=...)`` -> a :class:`Pointer` (backbone + trained pointer).

    pointer = partpoint.load_pointer()                       # default-llava + its bundled pointer
    result = pointer.point("mug.jpg", "Point to the handle of the mug.")
    result.x, result.y                                         # original image pixels

A pointer trained for a backbone lives in ``src/partpoint/assets/pointers/<backbone name>/`` when it
is bundled; any other pointer is a directory written by ``PartPointer.save_pretrained``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from einops import rearrange
from PIL import Image

from .errors import CheckpointError, InstructionError
from .io.images import ImageLike, check_instruction, load_image
from .pointer import PartPointer, PointResult, collate

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


def check_trained_on(model, backbone) -> None:
    """CheckpointError when the ``PartPointer`` ``model`` was trained on a backbone other than ``backbone``."""
    fingerprint = getattr(backbone, "fingerprint", None)
    if model.config.fingerprint != fingerprint:
        raise CheckpointError(
            f"pointer was trained on backbone {model.config.backbone!r} (fingerprint {model.config.fingerprint}) "
            f"but got {getattr(backbone, 'name', None)!r} (fingerprint {fingerprint}); use the matching backbone or retrain"
        )


def load_pointer_for(backbone, pointer=None):
    """A ``PartPointer`` for a loaded ``backbone``: ``pointer`` may be a PartPointer, a directory or None
    (the bundled one). Raises :class:`CheckpointError` when it belongs to another backbone."""
    if isinstance(pointer, PartPointer):
        check_trained_on(pointer, backbone)
        return pointer.eval()
    directory = resolve_pointer_dir(backbone.name, pointer)
    return PartPointer.from_pretrained(directory, backbone=backbone).eval()


class Pointer:
    """A trained :class:`PartPointer` on the frozen backbone it was trained on; build it with :func:`load_pointer`.

    The predictor owns everything around the model: it validates the image and the instructions once,
    encodes the image prefix once for all the instructions of a call (``Backbone.encode`` with a list),
    runs the pointer on a :class:`PointerBatch` and returns :class:`PointResult` objects in ORIGINAL image
    pixels that carry the grid geometry they were mapped through (so overlays never re-run the processor).
    ``model`` is the ``PartPointer`` (an ``nn.Module`` that does no I/O), ``backbone`` the ``Backbone``.
    """

    def __init__(self, *, backbone, model):
        check_trained_on(model, backbone)
        self.backbone = backbone
        self.model = model.eval()

    def __repr__(self) -> str:
        return f"Pointer(backbone={self.backbone.name!r}, heads={self.model.config.heads})"

    @property
    def heads(self) -> list[tuple[int, int]]:
        """The ``(layer, head)`` localization heads the pointer reads."""
        return [tuple(pair) for pair in self.model.config.heads]

    def point(self, image: ImageLike, text):
        """Point at the part ``text`` asks for -> ``PointResult`` (x, y in ORIGINAL image pixels, score,
        heatmap ``(P_h * s, P_w * s)`` probabilities over the processed region, width, height, geometry).
        A list of instructions gives a list of results; the image prefix is encoded once for all."""
        several = not isinstance(text, str)
        texts = _instructions(text)
        results = self.point_all(load_image(image), texts)
        return results if several else results[0]

    @torch.no_grad()
    def point_all(self, image: Image.Image, texts: list[str]) -> list[PointResult]:
        """:meth:`point` for an image already loaded (``load_image``) and instructions already checked."""
        features = self.backbone.encode(image, texts, layers=self.model.config.layers,  # one Features per text
                                        pre_rope=self.model.needs_pre_rope)
        batch = collate([self.model.gather(f) for f in features])
        output = self.model(batch)  # heatmap (B, H', W')
        u, v, score = self.model.predict_point(output, batch.grid)  # (B,) each, grid units
        heatmaps = rearrange(output.heatmap, "b h w -> b (h w)").softmax(-1).reshape(output.heatmap.shape)
        results = []
        for b, (feats, text) in enumerate(zip(features, texts)):
            x, y = feats.to_image_xy(float(u[b]), float(v[b]))
            width, height = feats.image_size
            results.append(PointResult(x=float(x), y=float(y), score=float(score[b]), heatmap=heatmaps[b].numpy(),
                                       width=int(width), height=int(height), geometry=feats.geometry,
                                       instruction=text))
        return results

    def geometry(self, image: ImageLike):
        """The ``GridGeometry`` of ``image`` for this backbone (what places the heatmap on the image)."""
        return self.backbone.geometry(image)

    def overlay(self, image: ImageLike, text: str, result=None):
        """The image with the heatmap, the point and ``text`` drawn on it (a PIL image of the same size)."""
        from .io.viz import draw_overlay

        image, text = load_image(image), check_instruction(text)
        result = result if result is not None else self.point_all(image, [text])[0]
        return draw_overlay(image, result, geometry=self._geometry_of(result, image), caption=text)

    def overlay_many(self, image: ImageLike, texts, results=None):
        """Several instructions on one image: a colour per instruction (heatmap tint, marker, legend line)."""
        from .io.viz import draw_points_overlay

        image, texts = load_image(image), _instructions(texts)
        results = results if results is not None else self.point_all(image, texts)
        return draw_points_overlay(image, results, texts, geometry=self._geometry_of(results[0], image))

    def _geometry_of(self, result, image):
        geometry = getattr(result, "geometry", None)
        return geometry if geometry is not None else self.backbone.geometry(image)


def _instructions(text) -> list[str]:
    """One instruction or a list of them, each checked; InstructionError for none."""
    if isinstance(text, str):
        return [check_instruction(text)]
    texts = [check_instruction(t) for t in text]
    if not texts:
        raise InstructionError("no instructions given; pass at least one")
    return texts


def load_pointer(backbone=DEFAULT_BACKBONE, pointer=None, *, device: str = "cpu", dtype="auto") -> Pointer:
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
    return Pointer(backbone=backbone, model=load_pointer_for(backbone, pointer))
