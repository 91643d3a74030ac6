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
    negatives: list[dict] = field(default_factory=list, repr=False)

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
            **self.reliability_summary(),
        }

    def reliability_summary(self) -> dict:
        """With calibrated predictions: ``ece`` (15 bins), ``reliability`` (the bins), ``missed_present_rate``
        (samples called absent); with negatives also ``negatives``, ``absent_auroc`` (presence of samples
        vs negatives) and ``false_point_rate`` (negatives called present: a point where there is nothing)."""
        rated = [s for s in self.samples if "confidence" in s]
        if not rated:
            return {}
        confidence, hits = [s["confidence"] for s in rated], [s["hit"] for s in rated]
        out = {"ece": expected_calibration_error(confidence, hits),
               "ece_interval": ece_interval(confidence, hits),
               "ece_floor": ece_floor(confidence),
               "reliability": reliability(confidence, hits)}
        called = [s["present"] for s in rated if "present" in s]  # a reference alone has no presence
        if called:
            out["missed_present_rate"] = float(np.mean([not present for present in called]))
        if self.negatives:
            presence = [s["presence"] for s in rated] + [s["presence"] for s in self.negatives]
            out.update(negatives=len(self.negatives),
                       absent_auroc=auroc(presence, [True] * len(rated) + [False] * len(self.negatives)),
                       false_point_rate=float(np.mean([s["present"] for s in self.negatives])))
        return out

    def to_json(self, *, with_samples: bool = True) -> str:
        data = self.summary()
        if with_samples:
            data["samples"] = self.samples
            if self.negatives:
                data["negative_samples"] = self.negatives
        return json.dumps(data, indent=2)

    def table(self) -> str:
        """A readable plain-text report: totals, then one row per category."""
        patch = "n/a (no backbone)" if self.patch_acc is None else f"{self.patch_acc:.3f}"
        lines = [f"method {self.method} | backbone {self.backbone} | {self.n} samples",
                 f"hit rate   {self.hit_rate:.3f}  ({self.hits}/{self.n})", f"patch acc  {patch}"]
        if self.method == "text":
            lines.append(f"unparsed   {self.unparsed} answers (counted as misses)")
        rated = self.reliability_summary()
        if rated:
            low, high = rated["ece_interval"]
            lines.append(f"ECE        {rated['ece']:.3f}  (15 bins; calibrated confidence vs hits; 90% "
                         f"interval {low:.3f}-{high:.3f}; a calibrated predictor would score "
                         f"{rated['ece_floor']:.3f} on this many samples)")
            lines.append(f"called absent {rated['missed_present_rate']:.3f} of the samples")
        if "absent_auroc" in rated:
            lines.append(f"negatives  {rated['negatives']}: absent AUROC {rated['absent_auroc']:.3f}, "
                         f"false-point rate {rated['false_point_rate']:.3f}")
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


ECE_BINS = 15


def reliability(confidence, hits, *, bins: int = ECE_BINS) -> list[dict]:
    """Equal-width confidence bins over ``[0, 1]``: per non-empty bin its range, count, mean confidence and
    hit rate (what a reliability diagram draws)."""
    confidence, hits = np.asarray(confidence, dtype=np.float64), np.asarray(hits, dtype=np.float64)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    return [{"low": b / bins, "high": (b + 1) / bins, "n": int((index == b).sum()),
             "confidence": float(confidence[index == b].mean()), "hit_rate": float(hits[index == b].mean())}
            for b in range(bins) if (index == b).any()]


def expected_calibration_error(confidence, hits, *, bins: int = ECE_BINS) -> float:
    """ECE: the count-weighted mean over equal-width bins of ``|hit rate - mean confidence|``."""
    n = len(np.asarray(confidence))
    if n == 0:
        return float("nan")
    return float(sum(b["n"] / n * abs(b["hit_rate"] - b["confidence"])
                     for b in reliability(confidence, hits, bins=bins)))


def ece_floor(confidence, *, bins: int = ECE_BINS, draws: int = 1000, seed: int = 0) -> float:
    """The ECE a perfectly calibrated predictor gets with these confidences on this many samples (hits drawn
    as Bernoulli(confidence), mean over ``draws``): the sampling noise under a measured ECE. A few hundred
    samples in 15 bins give 0.03-0.07 with no miscalibration at all."""
    confidence = np.asarray(confidence, dtype=np.float64)
    if not len(confidence):
        return float("nan")
    rng = np.random.default_rng(seed)
    return float(np.mean([expected_calibration_error(confidence, rng.random(len(confidence)) < confidence,
                                                     bins=bins) for _ in range(draws)]))


def ece_interval(confidence, hits, *, bins: int = ECE_BINS, draws: int = 1000, seed: int = 0,
                 level: float = 0.9) -> list[float]:
    """Bootstrap ``level`` interval ``[low, high]`` of the ECE (samples resampled with replacement)."""
    confidence, hits = np.asarray(confidence, dtype=np.float64), np.asarray(hits, dtype=bool)
    if not len(confidence):
        return [float("nan")] * 2
    rng = np.random.default_rng(seed)
    picks = (rng.integers(len(confidence), size=len(confidence)) for _ in range(draws))
    values = [expected_calibration_error(confidence[i], hits[i], bins=bins) for i in picks]
    return [float(np.quantile(values, (1 - level) / 2)), float(np.quantile(values, (1 + level) / 2))]


def auroc(scores, positive) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative
    (ties count half); NaN without both classes."""
    from scipy.stats import rankdata

    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def match_points(points, masks) -> int:
    """One-to-one matches of predicted points to instance masks (Hungarian on the distance from each point
    to each instance's pixels, as Molmo's PointingEval matches points to instances): how many matched points
    lie inside their instance."""
    from scipy.ndimage import distance_transform_edt
    from scipy.optimize import linear_sum_assignment

    if not len(points) or not len(masks):
        return 0
    cost = np.zeros((len(points), len(masks)))
    for j, mask in enumerate(masks):
        outside = distance_transform_edt(~np.asarray(mask, dtype=bool))  # (H, W) 0 inside
        height, width = outside.shape
        for i, (x, y) in enumerate(points):
            col = min(max(int(math.floor(x)), 0), width - 1)
            row = min(max(int(math.floor(y)), 0), height - 1)
            beyond = math.hypot(max(0.0, -x, x - width + 1), max(0.0, -y, y - height + 1))
            cost[i, j] = outside[row, col] + beyond
    rows, cols = linear_sum_assignment(cost)
    return int(sum(point_hit(masks[j], *points[i]) for i, j in zip(rows, cols)))
