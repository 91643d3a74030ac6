"""Polygon primitives in an object's own frame (x right, y down) and the frame -> image transform.

Every region of an object is a list of polygons, each a ``(V, 2)`` float array of ``(x, y)``
vertices; ellipses and arcs are sampled densely enough to look round at 640 px.
"""

from __future__ import annotations

import math

import numpy as np

Polygon = np.ndarray  # (V, 2)


def rect(cx: float, cy: float, w: float, h: float) -> Polygon:
    """Axis-aligned rectangle centred at ``(cx, cy)``."""
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def trapezoid(cx: float, y_top: float, y_bottom: float, w_top: float, w_bottom: float) -> Polygon:
    """Symmetric trapezoid with horizontal top and bottom edges."""
    return np.array([[cx - w_top / 2, y_top], [cx + w_top / 2, y_top], [cx + w_bottom / 2, y_bottom],
                     [cx - w_bottom / 2, y_bottom]], dtype=np.float64)


def ellipse(cx: float, cy: float, rx: float, ry: float, *, start: float = 0.0, end: float = 360.0,
            n: int = 48) -> Polygon:
    """Ellipse (or the chord-closed sector between angles ``start``..``end`` in degrees, y down)."""
    full = abs(end - start) >= 360
    t = np.radians(np.linspace(start, end, n, endpoint=not full))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def arc(cx: float, cy: float, *, outer: tuple[float, float], inner: tuple[float, float], start: float,
        end: float, n: int = 32) -> Polygon:
    """Thick elliptical arc between radii ``inner`` and ``outer`` (rx, ry), angles in degrees (< 360
    apart)."""
    t = np.radians(np.linspace(start, end, n))
    out = np.stack([cx + outer[0] * np.cos(t), cy + outer[1] * np.sin(t)], axis=1)
    inn = np.stack([cx + inner[0] * np.cos(t[::-1]), cy + inner[1] * np.sin(t[::-1])], axis=1)
    return np.concatenate([out, inn], axis=0)


def ring(cx: float, cy: float, *, outer: tuple[float, float], inner: tuple[float, float]) -> list[Polygon]:
    """Closed elliptical ring as two half arcs (PIL polygons cannot have holes)."""
    return [arc(cx, cy, outer=outer, inner=inner, start=s, end=s + 180) for s in (0, 180)]


def segment(x0: float, y0: float, x1: float, y1: float, width: float) -> Polygon:
    """Thick straight bar from ``(x0, y0)`` to ``(x1, y1)``."""
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length * width / 2, dx / length * width / 2
    return np.array([[x0 + nx, y0 + ny], [x1 + nx, y1 + ny], [x1 - nx, y1 - ny], [x0 - nx, y0 - ny]],
                    dtype=np.float64)


def normalize(regions: dict[str, list[Polygon]]) -> dict[str, list[Polygon]]:
    """Centre all regions on their joint bbox and scale so its longest side is 1."""
    points = np.concatenate([p for polys in regions.values() for p in polys], axis=0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, extent = (lo + hi) / 2, float((hi - lo).max())
    return {name: [(p - centre) / extent for p in polys] for name, polys in regions.items()}


def affine(*, span: float, angle_deg: float, stretch: float, flip: bool) -> np.ndarray:
    """(2, 2) matrix: optional mirror, stretch x by ``stretch``, scale to ``span`` px, rotate."""
    t = math.radians(angle_deg)
    rotation = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    mirror = np.diag([-1.0 if flip else 1.0, 1.0])
    return rotation @ np.diag([span * stretch, span]) @ mirror


def apply(regions: dict[str, list[Polygon]], matrix: np.ndarray, offset: np.ndarray) -> dict[str,
                                                                                             list[Polygon]]:
    """Map every polygon vertex ``p`` to ``matrix @ p + offset`` (image pixels)."""
    return {name: [p @ matrix.T + offset for p in polys] for name, polys in regions.items()}


def bounds(regions: dict[str, list[Polygon]]) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of all vertices."""
    points = np.concatenate([p for polys in regions.values() for p in polys], axis=0)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)
