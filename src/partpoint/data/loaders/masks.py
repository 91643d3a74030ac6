"""Mask sources kept undecoded: a PNG file, one class of a label map, a box, a COCO segmentation (polygons or
RLE)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...errors import DataError


@dataclass(frozen=True)
class PngMask:
    """A mask image; a pixel is inside when its value is ``> threshold``.

    paths: candidate files, the first that exists is read (layouts that vary between releases).
    Single-channel masks (L, P, 1, I;16) compare their value; colour masks are inside where any of
    R, G, B exceeds the threshold (PointArena's rule). Alpha is ignored.
    """

    paths: tuple[Path, ...]
    threshold: int = 0

    def load(self) -> np.ndarray:
        """Return the ``(H, W)`` bool mask."""
        values = self.load_values()
        if values.ndim == 3:
            values = values[..., :3].max(axis=-1)  # (H, W)
        return values > self.threshold

    def load_values(self) -> np.ndarray:
        """The first existing file's pixel values, as stored."""
        path = next((p for p in self.paths if p.is_file()), None)
        if path is None:
            raise DataError(f"mask file not found: {self.describe()}; restore the mask or fix the dataset "
                            "layout")
        try:
            with Image.open(path) as img:
                values = np.asarray(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise DataError(f"mask {path} cannot be read ({e}); re-export it as a PNG") from None
        return values

    def describe(self) -> str:
        return " or ".join(str(p) for p in self.paths)


def decode_segmentation(segmentation: list | dict, *, height: int, width: int) -> np.ndarray:
    """Decode a COCO segmentation into a ``(height, width)`` bool mask.

    Accepts a list of polygons ``[[x0, y0, x1, y1, ...], ...]`` (their union), an uncompressed RLE
    ``{"counts": [int, ...], "size": [h, w]}`` or a compressed one (``counts`` a str or bytes).
    An RLE's own ``size`` wins over ``height``/``width``.
    """
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        polygons = [[float(v) for v in poly] for poly in segmentation if len(poly) >= 6]
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        h, w = segmentation.get("size", (height, width))
        counts = segmentation["counts"]
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects({"counts": counts, "size": [h, w]}, h, w)
        else:
            rle = {"counts": counts.encode("ascii") if isinstance(counts, str) else counts, "size": [h, w]}
    else:
        raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")
    with warnings.catch_warnings():  # pycocotools' Cython arrays trip numpy 2's copy-keyword deprecation
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
        return mask_utils.decode(rle).astype(bool)


@dataclass(frozen=True, eq=False)
class CocoMask:
    """A COCO/LVIS segmentation (or several, unioned) decoded on :meth:`load`.

    segmentations: one or more COCO segmentations of the same image, unioned.
    height, width: the image size the JSON declares (polygons are rasterised at it).
    name: how error messages refer to it, e.g. ``"annotation 17 of annotations.json"``.
    """

    segmentations: tuple
    height: int
    width: int
    name: str

    def load(self) -> np.ndarray:
        """Return the ``(H, W)`` bool union of the segmentations."""
        mask = None
        for segmentation in self.segmentations:
            try:
                part = decode_segmentation(segmentation, height=self.height, width=self.width)
            except (ValueError, TypeError, KeyError) as e:
                raise DataError(f"segmentation of {self.name} cannot be decoded ({e}); use COCO polygons or "
                                "RLE") from None
            if mask is not None and part.shape != mask.shape:
                raise DataError(f"segmentations of {self.name} have different sizes; re-export them at the "
                                "image size")
            mask = part if mask is None else mask | part
        return mask

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class LabelMask:
    """One class of a label map (a PNG of class ids): inside where the pixel equals ``class_id``."""

    path: Path
    class_id: int

    def load(self) -> np.ndarray:
        return PngMask(paths=(self.path,), threshold=-1).load_values() == self.class_id

    def describe(self) -> str:
        return f"class {self.class_id} of {self.path}"


@dataclass(frozen=True)
class BoxMask:
    """A box ``(x0, y0, x1, y1)`` in pixels of a ``size`` ``(W, H)`` image, as the target region: the whole
    box,
    or (``shape="ellipse"``) the ellipse inscribed in it (a handle's box holds much that is not handle)."""

    box: tuple[float, float, float, float]
    size: tuple[int, int]
    shape: str = "box"
    name: str = ""

    def load(self) -> np.ndarray:
        (x0, y0, x1, y1), (width, height) = self.box, self.size
        xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5  # pixel centres
        if self.shape == "ellipse":
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
            return ((xs[None, :] - cx) / rx) ** 2 + ((ys[:, None] - cy) / ry) ** 2 <= 1
        return ((xs >= x0) & (xs < x1))[None, :] & ((ys >= y0) & (ys < y1))[:, None]

    def describe(self) -> str:
        return self.name
