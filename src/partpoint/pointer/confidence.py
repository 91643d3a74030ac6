"""Calibrated confidence and "not in the image" from the pointer's own signals.

Eight signals describe one point (a heatmap peak) of one forward pass:

- ``peak_mass``: the heatmap's softmax mass in the 3 x 3 heatmap cells around the peak;
- ``entropy``: the heatmap's entropy over its cells, divided by ``log(cells)`` (1: flat, 0: one cell);
- ``agreement``: mean over the k localization heads of the synthesized attention ``A_s`` within ``RADIUS``
  grid cells of the point (do the heads look where the decoder points?);
- ``presence``: the presence head's logit when the pointer has one (:mod:`partpoint.pointer.presence`), else
  the largest head-mean patch logit ``q_s K^T`` over the image (what the patch-wise BCE trains: high on the
  part's cells, low everywhere on an image without it; negatives teach the low);
- ``local_presence``: the largest head-mean patch logit within ``RADIUS`` cells of the point (is the part
  where the point is?);
- ``vision_agreement``, ``vision_local``, ``vision_presence``: the vision head's ``A_s`` mass near the point,
  its largest patch logit near the point and over the image (0 for a pointer without one). With them the
  2-fold cross-validated ECE on the bundled pointer's val sets fell from 0.078 / 0.098 / 0.067 to 0.043 /
  0.046 / 0.051 (SynthParts val, Car-Parts and CCP held out): the vision head is the most reliable head.

A :class:`Calibration` maps them through two logistic regressions fitted on a val split
(``partpoint calibrate``): ``confidence`` = P(the point hits the part | the part is in the image), fitted
on val samples; ``presence`` = P(the instruction's part is in the image), fitted on val samples and their
negatives (:mod:`partpoint.data.negatives`), with ``threshold`` the presence that best separates them on
val (balanced accuracy). A third, ``example``, maps the part probability at the peak of a reference photo
alone (:mod:`partpoint.example`; no instruction, so none of the signals above) to P(the point hits), fitted on
the same val samples with one reference each. It is stored with the pointer as ``calibration.json``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

SIGNALS = ("peak_mass", "entropy", "agreement", "presence", "local_presence",
           "vision_agreement", "vision_local", "vision_presence")
RADIUS = 1.5  # grid cells around a point that count as "at the point"
CALIBRATION_NAME = "calibration.json"


def point_signals(output, heat: torch.Tensor, grid: tuple[int, int], u: float, v: float,
                  index: int = 0) -> np.ndarray:
    """The :data:`SIGNALS` of the point ``(u, v)`` (grid units) of sample ``index`` of a ``PointerOutput``,
    whose heatmap probabilities (the one the point was read from: fused with examples or not) are
    ``heat (H', W')``; -> ``(8,)`` float64 (:data:`SIGNALS`)."""
    heat = heat.double()
    scale = heat.shape[0] // grid[0]
    row, col = min(int(v * scale), heat.shape[0] - 1), min(int(u * scale), heat.shape[1] - 1)
    peak_mass = heat[max(row - 1, 0): row + 2, max(col - 1, 0): col + 2].sum()
    entropy = -(heat * heat.clamp_min(1e-30).log()).sum() / np.log(heat.numel())
    rows, cols = torch.meshgrid(torch.arange(grid[0]) + 0.5, torch.arange(grid[1]) + 0.5, indexing="ij")
    near = ((rows - v) ** 2 + (cols - u) ** 2 <= RADIUS**2).flatten()  # (P,)
    if not near.any():
        near[int(min(v, grid[0] - 1e-6)) * grid[1] + int(min(u, grid[1] - 1e-6))] = True
    attn, heads = output.attn[index].double(), output.attn.shape[1] - output.vision_rows
    agreement = attn[:heads, near].sum(dim=-1).mean()  # the k heads' A_s mass near the point
    patch_logits = output.patch_logits[index].double()  # (k [+ 1], P)
    logits = patch_logits.mean(dim=0)  # (P,)
    presence = logits.max() if output.presence_logit is None else output.presence_logit[index]
    vision = [0.0, 0.0, 0.0]
    if output.vision_rows:  # the vision head's A_s mass and largest patch logit near the point, and anywhere
        own = patch_logits[-1]
        vision = [float(attn[-1, near].sum()), float(own[near].max()), float(own.max())]
    return np.array([float(peak_mass), float(entropy), float(agreement), float(presence),
                     float(logits[near].max()), *vision])


@dataclass
class Logistic:
    """``sigmoid(w . (x - mean) / std + b)`` over the :data:`SIGNALS`."""

    mean: list[float]
    std: list[float]
    weights: list[float]
    bias: float

    def __call__(self, signals: np.ndarray) -> np.ndarray:
        z = (np.asarray(signals, dtype=np.float64) - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))

    @classmethod
    def fit(cls, signals: np.ndarray, labels: np.ndarray, *, l2: float = 1e-4, steps: int = 50) -> Logistic:
        """Maximum likelihood with a small L2 penalty (Newton's method) on standardized signals."""
        x = np.asarray(signals, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # (N, F + 1)
        theta = np.zeros(z.shape[1])
        penalty = np.diag([l2] * (z.shape[1] - 1) + [0.0])
        for _ in range(steps):
            p = 1.0 / (1.0 + np.exp(-(z @ theta)))
            gradient = z.T @ (p - y) / len(y) + penalty @ theta
            hessian = (z.T * (p * (1 - p))) @ z / len(y) + penalty + 1e-9 * np.eye(len(theta))
            step = np.linalg.solve(hessian, gradient)
            theta -= step
            if np.abs(step).max() < 1e-10:
                break
        return cls(mean=mean.tolist(), std=std.tolist(), weights=theta[:-1].tolist(), bias=float(theta[-1]))


@dataclass
class Calibration:
    """The fitted maps of the module docstring; ``fitted`` records on what (data, counts, val scores) and
    ``weights_sha256`` which pointer weights (a calibration is ignored for other weights)."""

    confidence: Logistic
    presence: Logistic
    threshold: float
    signals: tuple[str, ...] = SIGNALS
    fitted: dict = field(default_factory=dict)
    weights_sha256: str = ""
    example: Logistic | None = None  # a reference alone: P(hit | the part probability at its peak)

    def score(self, signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, S)`` signals (``S = len(SIGNALS)``) -> ``(confidence, presence)`` probabilities, each
        ``(N,)``."""
        signals = np.atleast_2d(signals)
        return self.confidence(signals), self.presence(signals)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "signals": list(self.signals)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        if tuple(data.get("signals", ())) != SIGNALS:
            raise ValueError(f"calibration signals {data.get('signals')} are not {list(SIGNALS)}")
        return cls(confidence=Logistic(**data["confidence"]), presence=Logistic(**data["presence"]),
                   threshold=float(data["threshold"]), fitted=data.get("fitted", {}),
                   weights_sha256=data.get("weights_sha256", ""),
                   example=Logistic(**data["example"]) if data.get("example") else None)

    @classmethod
    def fit(cls, signals: np.ndarray, hits: np.ndarray, negative_signals: np.ndarray, *,
            fitted: dict | None = None) -> Calibration:
        """Fit on val: ``signals (N, S)`` of the samples' points and whether they hit, and the signals of
        the negatives' points ``(M, S)`` (their instruction's subject is absent)."""
        from ..errors import DataError

        hits = np.asarray(hits, dtype=bool)
        if not len(hits) or not len(negative_signals):
            raise DataError(f"calibration needs val samples and negatives, got {len(hits)} and "
                            f"{len(negative_signals)}; use a val split with several classes")
        if hits.all() or not hits.any():  # nothing to tell hits from misses: the smoothed hit rate
            warnings.warn(f"val has {int(hits.sum())} hits of {len(hits)}: the confidence is the val hit "
                          "rate for every point", stacklevel=2)
            rate = (hits.sum() + 0.5) / (len(hits) + 1)
            n = signals.shape[1]
            confidence = Logistic(mean=[0.0] * n, std=[1.0] * n, weights=[0.0] * n,
                                  bias=float(np.log(rate / (1 - rate))))
        else:
            confidence = Logistic.fit(signals, hits)
        both = np.vstack([signals, negative_signals])
        present = np.r_[np.ones(len(signals)), np.zeros(len(negative_signals))].astype(bool)
        presence = Logistic.fit(both, present)
        return cls(confidence=confidence, presence=presence,
                   threshold=best_threshold(presence(both), present), fitted=dict(fitted or {}))


def best_threshold(scores: np.ndarray, positive: np.ndarray) -> float:
    """The threshold ``t`` (predict positive when ``score >= t``) of the best balanced accuracy among the
    scores themselves; ties: the median of the best."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    candidates = np.unique(scores)
    accuracy = np.array([((scores[positive] >= t).mean() + (scores[~positive] < t).mean()) / 2
                         for t in candidates])
    best = np.flatnonzero(accuracy >= accuracy.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])


def weights_digest(directory: str | Path) -> str:
    """sha256 of a pointer directory's weights file (ties a calibration to the weights it was fitted on)."""
    from .model import WEIGHTS_NAME

    return hashlib.sha256((Path(directory) / WEIGHTS_NAME).read_bytes()).hexdigest()
