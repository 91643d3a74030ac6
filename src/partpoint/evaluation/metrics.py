"""Scores of one pointing method on one dataset: hits, patch accuracy, per category, counting.

Definitions (one prediction per sample, in ORIGINAL image pixels):

- **hit**: the point ``(x, y)`` lies inside the image and ``mask[floor(y), floor(x)]`` is True. A point
  outside the image, a non-finite point and an unparseable text answer (counted in ``unparsed``) are misses.
- **patch accuracy**: the grid cell containing the point (``floor`` of ``geometry.to_grid_uv(x, y)``) is a
  *part cell*: the patch mask the pointer's BCE trains on (``partpoint.losses.bce``: coverage >= 0.5,
  else the max-coverage cell(s)). A point outside the grid (e.g. in the region LLaVA crops away) is a miss.
- **per category**: hits / samples per ``sample.category`` (``"object:part"``).
- **counting** (PointArena's rule, for samples whose ``meta["task"]`` is ``"counting"``): a hit needs
  exactly ``meta["count"]`` points, every one inside the mask. Text pointing gives every point of its
  answer; ours and attention pointing give the top-``count`` peaks of their heatmap at least
  ``COUNT_PEAK_SEPARATION`` grid cells apart; centre and random give one point (so they miss any
  count above 1).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write_text
from ..losses.bce import part_cells

COUNT_PEAK_SEPARATION = 2.0  # grid cells between two counted peaks


@dataclass
class CategoryScore:
    n: int = 0
    hits: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.n if self.n else 0.0


@dataclass
class EvalResult:
    """Scores of one method on one dataset; ``samples`` holds one record per sample (key, category,
    x, y, hit, patch_hit, parsed)."""

    method: str
    backbone: str
    n: int
    hits: int
    patch_hits: int | None
    unparsed: int
    per_category: dict[str, CategoryScore]
    samples: list[dict] = field(default_factory=list, repr=False)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def patch_acc(self) -> float | None:
        if self.patch_hits is None:
            return None
        return self.patch_hits / self.n if self.n else 0.0

    def summary(self) -> dict:
        """What ``partpoint eval --json`` prints."""
        return {
            "method": self.method,
            "backbone": self.backbone,
            "n": self.n,
            "hit_rate": self.hit_rate,
            "patch_acc": self.patch_acc,
            "per_category": {name: score.hit_rate for name, score in sorted(self.per_category.items())},
            "per_category_n": {name: score.n for name, score in sorted(self.per_category.items())},
            "unparsed": self.unparsed,
        }

    def to_json(self, *, with_samples: bool = True) -> str:
        data = self.summary()
        if with_samples:
            data["samples"] = self.samples
        return json.dumps(data, indent=2)

    def table(self) -> str:
        """A readable plain-text report: totals, then one row per category."""
        patch = "n/a (no backbone)" if self.patch_acc is None else f"{self.patch_acc:.3f}"
        lines = [f"method {self.method} | backbone {self.backbone} | {self.n} samples",
                 f"hit rate   {self.hit_rate:.3f}  ({self.hits}/{self.n})", f"patch acc  {patch}"]
        if self.method == "text":
            lines.append(f"unparsed   {self.unparsed} answers (counted as misses)")
        width = max([len("category")] + [len(name) for name in self.per_category])
        lines += ["", f"{'category':<{width}}  {'n':>5}  {'hits':>5}  {'hit rate':>8}"]
        for name, score in sorted(self.per_category.items()):
            lines.append(f"{name:<{width}}  {score.n:>5}  {score.hits:>5}  {score.hit_rate:>8.3f}")
        return "\n".join(lines)

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(Path(path), self.to_json())


def point_hit(mask: np.ndarray, x: float, y: float) -> bool:
    """True when ``(x, y)`` (original pixels) is inside the image and on a True pixel of ``mask (H, W)``."""
    height, width = mask.shape[:2]
    if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x < width and 0 <= y < height):
        return False
    return bool(mask[int(math.floor(y)), int(math.floor(x))])


def patch_hit(coverage: np.ndarray, geometry, x: float, y: float) -> bool:
    """True when the grid cell containing ``(x, y)`` is a part cell of ``coverage (P_h, P_w)``."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    u, v = geometry.to_grid_uv(x, y)
    col, row = int(math.floor(float(u))), int(math.floor(float(v)))
    grid_h, grid_w = coverage.shape
    if not (0 <= row < grid_h and 0 <= col < grid_w):
        return False
    return bool(part_cells(coverage)[row, col])


def sample_count(sample) -> int:
    """How many points a sample asks for: ``meta["count"]`` for PointArena's counting items, else 1."""
    meta = getattr(sample, "meta", {}) or {}
    return max(int(meta.get("count") or 1), 1) if meta.get("task") == "counting" else 1


def heatmap_points(heatmap: np.ndarray, geometry, count: int) -> list[tuple[float, float]]:
    """The top-``count`` separated peaks of a ``(P_h*s, P_w*s)`` heatmap, in original pixels."""
    from ..pointer.decode import separated_peaks

    scale = heatmap.shape[0] / geometry.grid[0]
    peaks = separated_peaks(heatmap, count, min_distance=COUNT_PEAK_SEPARATION * scale)
    return [tuple(float(c) for c in geometry.to_image_xy((col + 0.5) / scale, (row + 0.5) / scale))
            for row, col in peaks]
