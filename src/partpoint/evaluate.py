"""Evaluation: hit rate, patch accuracy and per-category hit rates of a pointing method on a dataset.

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

Methods: ``ours`` (a trained ``PartPointer``), ``attention`` (native attention of localization heads:
the pointer's heads, else ``heads``, else the bundled pointer's heads), ``text`` (the backbone answers
in words), ``center`` and ``random`` (seeded). Centre and random never run the model: their patch
accuracy uses the geometry from the backbone's processor, once per image size; with ``backbone=None``
their hits are still computed and ``patch_acc`` is None.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .errors import CheckpointError, PartPointError
from .losses.bce import PART_CELL_COVERAGE, part_cells  # noqa: F401  (re-exported)

METHODS = ("ours", "attention", "text", "center", "random")
COUNT_PEAK_SEPARATION = 2.0  # grid cells between two counted peaks


class MethodError(PartPointError, ValueError):
    """An unknown evaluation method, or one missing what it needs."""


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
        lines = [
            f"method {self.method} | backbone {self.backbone} | {self.n} samples",
            f"hit rate   {self.hit_rate:.3f}  ({self.hits}/{self.n})",
            f"patch acc  {patch}",
        ]
        if self.method == "text":
            lines.append(f"unparsed   {self.unparsed} answers (counted as misses)")
        width = max([len("category")] + [len(name) for name in self.per_category])
        lines += ["", f"{'category':<{width}}  {'n':>5}  {'hits':>5}  {'hit rate':>8}"]
        for name, score in sorted(self.per_category.items()):
            lines.append(f"{name:<{width}}  {score.n:>5}  {score.hits:>5}  {score.hit_rate:>8.3f}")
        return "\n".join(lines)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path


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


def grid_coverage(mask: np.ndarray, geometry, size: tuple[int, int]) -> np.ndarray:
    """``grid_mask`` of ``Features`` for a bare geometry: ``(H, W)`` mask -> ``(P_h, P_w)`` coverage."""
    from .backbones.features import Features

    return Features(layers={}, geometry=geometry, image_size=tuple(size)).grid_mask(mask)


def sample_count(sample) -> int:
    """How many points a sample asks for: ``meta["count"]`` for PointArena's counting items, else 1."""
    meta = getattr(sample, "meta", {}) or {}
    return max(int(meta.get("count") or 1), 1) if meta.get("task") == "counting" else 1


def heatmap_points(heatmap: np.ndarray, geometry, count: int) -> list[tuple[float, float]]:
    """The top-``count`` separated peaks of a ``(P_h*s, P_w*s)`` heatmap, in original pixels."""
    from .pointer.decode import separated_peaks

    scale = heatmap.shape[0] / geometry.grid[0]
    peaks = separated_peaks(heatmap, count, min_distance=COUNT_PEAK_SEPARATION * scale)
    return [tuple(float(c) for c in geometry.to_image_xy((col + 0.5) / scale, (row + 0.5) / scale))
            for row, col in peaks]


def attention_heads(*, pointer=None, heads=None, backbone=None) -> list[tuple[int, int]]:
    """Heads for attention pointing: the pointer's, else ``heads`` (a HeadSelection, a heads.json path or
    ``(layer, head)`` pairs), else the heads of the pointer bundled for ``backbone``."""
    if pointer is not None:
        return [tuple(pair) for pair in pointer.config.heads]
    if heads is not None:
        if isinstance(heads, str | os.PathLike):
            from .heads import HeadSelection

            path = Path(heads)
            if not path.is_file():
                raise CheckpointError(f"heads file not found: {path}; write one with `partpoint select-heads`")
            try:
                return HeadSelection.from_json(path.read_text()).heads
            except (ValueError, KeyError, TypeError) as error:
                raise CheckpointError(f"heads file {path} is not a head selection ({error}); re-run select-heads") from None
        return [tuple(pair) for pair in getattr(heads, "heads", heads)]
    from .api import load_pointer_for

    return [tuple(pair) for pair in load_pointer_for(backbone, None).config.heads]


def evaluate(
    method: str,
    *,
    backbone,
    dataset,
    pointer=None,
    heads=None,
    seed: int = 0,
    progress: bool = True,
) -> EvalResult:
    """Run ``method`` on every sample of ``dataset`` and score it (see the module docstring).

    Args:
        method: one of ``ours``, ``attention``, ``text``, ``center``, ``random``.
        backbone: a loaded ``Backbone`` (may be None for ``center`` / ``random``: no patch accuracy).
        dataset: a ``PartDataset`` (or any sequence of ``Sample``).
        pointer: a ``PartPointer`` or its directory (``ours``; ``attention`` takes its heads); None: bundled.
        heads: attention heads when no pointer is given (HeadSelection, heads.json path, or pairs).
        seed: seed of the ``random`` method's point stream.
    """
    from tqdm.auto import tqdm

    from .baselines import attention_point, centre_point, random_point, text_points

    if method not in METHODS:
        raise MethodError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if backbone is None and method not in ("center", "random"):
        raise MethodError(f"method {method!r} needs a backbone; pass --backbone")
    geometry_of = None
    if backbone is not None:
        from .geometry_cache import GeometryCache

        geometry_of = GeometryCache(backbone)
    if method == "ours" or (method == "attention" and pointer is not None):
        from .api import load_pointer_for

        pointer = load_pointer_for(backbone, pointer)
    if method == "attention":
        head_list = attention_heads(pointer=pointer, heads=heads, backbone=backbone)
        layers = sorted({layer for layer, _ in head_list})
    rng = np.random.default_rng(seed)

    result = EvalResult(
        method=method,
        backbone=getattr(backbone, "name", "none"),
        n=0,
        hits=0,
        patch_hits=0 if backbone is not None else None,
        unparsed=0,
        per_category={},
    )
    for index in tqdm(range(len(dataset)), desc=f"eval {method}", disable=not progress, unit="sample"):
        sample = dataset[index]
        width, height = sample.image.size
        count = sample_count(sample)
        points = None  # several points: counting items only
        if method == "ours":
            prediction = pointer.point(backbone, sample.image, sample.instruction)
            if count > 1:
                points = heatmap_points(prediction.heatmap, geometry_of(sample.image), count)
        elif method == "attention":
            features = backbone.encode(sample.image, sample.instruction, layers=layers)
            geometry_of.remember(sample.image.size, features.geometry)
            prediction = attention_point(features, head_list)
            if count > 1:
                points = heatmap_points(prediction.heatmap, features.geometry, count)
        elif method == "text":
            points, _ = text_points(backbone, sample.image, sample.instruction)
            prediction = SimpleNamespace(x=points[0][0], y=points[0][1]) if points else None
        elif method == "center":
            prediction = centre_point(width, height)
        else:
            prediction = random_point(width, height, rng=rng)
        parsed = prediction is not None
        x, y = (prediction.x, prediction.y) if parsed else (float("nan"), float("nan"))
        if count > 1:
            points = points or [(x, y)]
            hit = len(points) == count and all(point_hit(sample.mask, px, py) for px, py in points)
        else:
            hit = point_hit(sample.mask, x, y)
        on_part_cell = None
        if geometry_of is not None:
            geometry = geometry_of(sample.image)
            on_part_cell = patch_hit(grid_coverage(sample.mask, geometry, sample.image.size), geometry, x, y)
            result.patch_hits += int(on_part_cell)
        result.n += 1
        result.hits += int(hit)
        result.unparsed += int(not parsed)
        score = result.per_category.setdefault(sample.category, CategoryScore())
        score.n += 1
        score.hits += int(hit)
        result.samples.append(
            {
                "key": sample.meta.get("key", str(index)),
                "category": sample.category,
                "x": x if parsed else None,
                "y": y if parsed else None,
                "hit": hit,
                "patch_hit": on_part_cell,
                "parsed": parsed,
                **({"count": count, "points": [list(map(float, p)) for p in points or []]} if count > 1 else {}),
            }
        )
    return result

