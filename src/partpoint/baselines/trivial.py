"""Reference pointers that ignore the image: the centre and a seeded uniform random point."""

from __future__ import annotations

import numpy as np

from ..pointer.result import PointResult


def centre_point(width: int, height: int) -> PointResult:
    """The image centre ``(W / 2, H / 2)``."""
    return PointResult(x=width / 2.0, y=height / 2.0, score=0.0, heatmap=None, width=width, height=height)


def random_point(width: int, height: int, *, rng: np.random.Generator | int = 0) -> PointResult:
    """A uniform random point in ``[0, W) x [0, H)``; pass one ``Generator`` for a reproducible stream."""
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    x, y = rng.uniform(0.0, width), rng.uniform(0.0, height)
    return PointResult(x=float(x), y=float(y), score=0.0, heatmap=None, width=width, height=height)
