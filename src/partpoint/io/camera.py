"""3-D points for robots: a pixel point + an aligned depth image + pinhole intrinsics -> ``(X, Y, Z)``.

Camera frame (OpenCV / ROS optical): ``X`` right, ``Y`` down, ``Z`` forward along the optical axis, in
the depth's unit times ``depth_scale`` (``0.001`` turns millimetre PNGs into metres). Intrinsics follow
the usual pixel-index convention (the centre of pixel ``(0, 0)`` is at ``(0, 0)``), so a partpoint point
``(x, y)`` (continuous, pixel ``i`` spanning ``[i, i + 1)``) sits at ``u = x - 0.5``, ``v = y - 0.5``.

``Z`` is robust: the median of the valid depth values (finite, > 0) in a ``(2 r + 1)^2`` window around
the point, so a point on an object's edge (half the window on the background) or on a hole (zeros)
does not take one wrong pixel's value. No valid value in the window is an error, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PartPointError

DEFAULT_WINDOW = 2  # r: a 5 x 5 window


class DepthError(PartPointError, ValueError):
    """A depth image that cannot be read, does not match the colour image, or has no depth near the point."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels: focal lengths ``fx``, ``fy`` and principal point ``cx``, ``cy``."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def parse(cls, value) -> Intrinsics:
        """``Intrinsics``, a ``(fx, fy, cx, cy)`` sequence, or the text ``"fx,fy,cx,cy"``."""
        if isinstance(value, Intrinsics):
            return value
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            fx, fy, cx, cy = (float(v) for v in parts)
        except (TypeError, ValueError):
            raise DepthError(f"intrinsics must be four numbers fx,fy,cx,cy, got {value!r}") from None
        if not (fx > 0 and fy > 0) or not all(np.isfinite([fx, fy, cx, cy])):
            raise DepthError(f"intrinsics need positive finite focal lengths, got fx={fx}, fy={fy}")
        return cls(fx, fy, cx, cy)


def load_depth(source, *, depth_scale: float = 1.0) -> np.ndarray:
    """A depth map ``(H, W)`` float64 in output units: an array, or an image file (16-bit PNG, float TIFF,
    ``.npy``), times ``depth_scale``."""
    if isinstance(source, np.ndarray):
        depth = source
    else:
        path = Path(source)
        if not path.is_file():
            raise DepthError(f"depth image not found: {path}")
        try:
            if path.suffix.lower() == ".npy":
                depth = np.load(path, allow_pickle=False)
            else:
                from PIL import Image

                with Image.open(path) as image:
                    depth = np.asarray(image)
        except (OSError, ValueError) as error:
            raise DepthError(f"cannot read the depth image {path} ({error}); pass a 16-bit PNG, a TIFF or a "
                             ".npy") from None
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise DepthError(f"a depth image has one channel, got shape {depth.shape}; pass the raw depth, not "
                         "a colour map")
    return depth * float(depth_scale)


def robust_depth(depth: np.ndarray, x: float, y: float, *, window: int = DEFAULT_WINDOW) -> float:
    """Median of the valid depth values within ``window`` pixels of the point ``(x, y)``."""
    height, width = depth.shape
    col, row = int(np.floor(x)), int(np.floor(y))
    if not (0 <= col < width and 0 <= row < height):
        raise DepthError(f"the point ({x:.1f}, {y:.1f}) is outside the {width}x{height} depth image")
    patch = depth[max(row - window, 0) : row + window + 1, max(col - window, 0) : col + window + 1]
    valid = patch[np.isfinite(patch) & (patch > 0)]
    if valid.size == 0:
        raise DepthError(f"no valid depth within {window} px of the point ({x:.1f}, {y:.1f}): the depth "
                         "there is 0 or missing; point again, or pass a depth image with data there")
    return float(np.median(valid))


def to_camera(x: float, y: float, depth, intrinsics, *, depth_scale: float = 1.0,
              window: int = DEFAULT_WINDOW,
              image_size: tuple[int, int] | None = None) -> tuple[float, float, float]:
    """``(X, Y, Z)`` of the pixel point ``(x, y)`` in the camera frame (module docstring).

    Args:
        depth: the depth map (array or file), aligned with the colour image, pixel for pixel.
        intrinsics: :class:`Intrinsics`, ``(fx, fy, cx, cy)`` or ``"fx,fy,cx,cy"``.
        image_size: ``(W, H)`` of the colour image; a depth image of another size is refused.
    """
    depth = load_depth(depth, depth_scale=depth_scale)
    if image_size is not None and tuple(depth.shape[::-1]) != tuple(image_size):
        raise DepthError(f"the depth image is {depth.shape[1]}x{depth.shape[0]} but the colour image is "
                         f"{image_size[0]}x{image_size[1]}; pass a depth image aligned with the colour image")
    k = Intrinsics.parse(intrinsics)
    z = robust_depth(depth, x, y, window=window)
    u, v = x - 0.5, y - 0.5
    return (u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z
