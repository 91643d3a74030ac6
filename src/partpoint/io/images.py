"""Reading images the way a user expects: any mode, EXIF rotation honoured, clear errors.

All coordinates partpoint reports are pixels of the image *as the user sees it*, i.e. after the
EXIF orientation has been applied. :func:`load_image` is the single entry point for that.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError, InstructionError

#: Largest image (in pixels) partpoint will decode; PIL's own bomb limit is the default.
MAX_PIXELS = int(os.environ.get("PARTPOINT_MAX_PIXELS", Image.MAX_IMAGE_PIXELS or 89_478_485))

ImageLike = str | os.PathLike | Image.Image | np.ndarray
_ORIENTATION = 0x0112  # the EXIF orientation tag


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels are composited onto white."""
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16"):
            arr = arr / 257.0  # 0..65535 -> 0..255
        elif arr.size and arr.max() > 255:
            arr = arr * (255.0 / arr.max())
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _check_size(size: tuple[int, int], what: str) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageError(f"{what} has 0 pixels ({w}x{h}); pass a non-empty image")
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"{what} is {w}x{h} = {w * h:,} pixels, over the {MAX_PIXELS:,}-pixel limit "
            "(decompression-bomb guard); downscale it first or raise PARTPOINT_MAX_PIXELS"
        )


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned by its EXIF orientation; the same object when it has none (an image already
    loaded)."""
    return (ImageOps.exif_transpose(image) or image) if image.getexif().get(_ORIENTATION, 1) != 1 else image


def load_image(image: ImageLike) -> Image.Image:
    """Return ``image`` as an RGB PIL image, upright as the user sees it.

    Accepts a path, a PIL image or an ``(H, W[, C])`` uint8 array. Raises :class:`ImageError`
    with a one-line message for a missing, unreadable, corrupt, empty or oversized image. An image this
    function returned comes back as the same object (nothing is decoded or copied twice).
    """
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or 0 in image.shape[:2]:
            raise ImageError(f"image array has shape {image.shape}; pass (H, W) or (H, W, 3) with H, W > 0")
        arr = image
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    if isinstance(image, Image.Image):
        _check_size(image.size, "image")
        return _to_rgb(_upright(image))
    if not isinstance(image, str | os.PathLike):
        raise ImageError(f"cannot read an image from a {type(image).__name__}; pass a path, a PIL image or "
                         "an array")

    path = Path(image)
    if not path.exists():
        raise ImageError(f"image file not found: {path}; check the path")
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image file; pass an image path")
    if path.stat().st_size == 0:
        raise ImageError(f"image file {path} is empty (0 bytes); pass a valid image")
    try:
        with Image.open(path) as img:
            _check_size(img.size, f"image {path.name}")
            img.load()
            return _to_rgb(_upright(img))
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError(f"image {path.name} is too large to decode safely ({e}); downscale it "
                         "first") from None
    except UnidentifiedImageError:
        raise ImageError(f"cannot identify {path} as an image (not an image or unsupported format); pass a "
                         "JPEG/PNG/...") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"image {path} is corrupt or truncated ({e}); re-export or re-download it") from None


def check_instruction(text: object) -> str:
    """Return the instruction stripped of surrounding whitespace; reject empty or non-string input."""
    if not isinstance(text, str):
        raise InstructionError(f"instruction must be a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise InstructionError('instruction is empty; pass what to point at, e.g. "Point to the handle of '
                               'the mug."')
    return text
