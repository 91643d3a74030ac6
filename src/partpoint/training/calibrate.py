"""Fit a pointer's :class:`~partpoint.pointer.confidence.Calibration` on cached val records and their
negatives (no image decoding: the points, signals and hits come from the feature cache)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from ..pointer.confidence import SIGNALS, Calibration, Logistic, point_signals
from .hits import point_hits
from .items import FINE_SCALE, make_batch, plan_epoch


@torch.no_grad()
def cached_signals(pointer, items: list, *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(signals (N, S), hits (N,) bool)`` of the pointer's point on every prepared item (item order);
    a negative's hit is False."""
    was_training = pointer.training
    pointer.eval()
    signals, hits = np.zeros((len(items), len(SIGNALS))), np.zeros(len(items), dtype=bool)
    for indices in plan_epoch([item.grid for item in items], batch_size=batch_size, seed=0, epoch=0):
        batch = make_batch(items, indices)
        output = pointer(batch)
        peak = pointer.predict_point(output, batch.grid)
        for row, i in enumerate(indices):
            u, v = float(peak.u[row]), float(peak.v[row])
            signals[i] = point_signals(output, peak.probs[row], batch.grid, u, v, row)
            hits[i] = items[i].present and point_hits(items[i].mask(FINE_SCALE), u, v)
    pointer.train(was_training)
    return signals, hits


@torch.no_grad()
def example_signals(pointer, items: list, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(part probability at the peak (N,), hits (N,) bool)`` of pointing by one reference alone at every
    present item that has one: another image's item of the same category (seeded), its mask's coverage as
    the labels (:mod:`partpoint.example`). Needs the items' vision patches."""
    from ..example import example_logits, peak_probability, transfer
    from ..pointer.decode import heatmap_peak

    by_category = defaultdict(list)
    for j, item in enumerate(items):
        if item.present:
            by_category[item.category].append(j)
    rng = np.random.default_rng(seed)
    peaks, hits = [], []
    for item in items:
        pool = [j for j in by_category.get(item.category, []) if items[j].image_id != item.image_id]
        if not item.present or not pool:
            continue
        reference = items[pool[int(rng.integers(len(pool)))]]
        prob = transfer(pointer.cell_embedding(item.vision.float()), pointer.cell_embedding(
            reference.vision.float()), reference.coverage.float()).reshape(item.geometry.grid)  # (P_h, P_w)
        size = tuple(n * pointer.config.upsample for n in item.geometry.grid)
        peak = heatmap_peak(example_logits(prob, size)[None], item.geometry.grid)
        u, v = float(peak.u[0]), float(peak.v[0])
        peaks.append(peak_probability(prob, u, v))
        hits.append(point_hits(item.mask(FINE_SCALE), u, v))
    return np.array(peaks), np.array(hits, dtype=bool)


def fit_example(peaks: np.ndarray, hits: np.ndarray) -> tuple[Logistic | None, dict]:
    """The reference-alone confidence map on val and its val scores (None when val cannot tell hits from
    misses: too few samples, or all hits or all misses)."""
    from ..evaluation.metrics import auroc, expected_calibration_error

    if len(hits) < 10 or hits.all() or not hits.any():
        return None, {"samples": len(hits)}
    example = Logistic.fit(peaks[:, None], hits)
    confidence = example(peaks[:, None])
    return example, {"samples": len(hits), "val_hit_rate": float(hits.mean()),
                     "val_ece": expected_calibration_error(confidence, hits), "val_auroc": auroc(peaks, hits)}


def set_signals(pointer, sets: dict[str, tuple[list, list]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Val sets ``name -> (items, negatives)`` (prepared; negatives ``present=False``) -> ``name -> (signals
    (N, S), hits (N,), negative signals (M, S))`` of the pointer's points."""
    return {name: (*cached_signals(pointer, items), cached_signals(pointer, absent)[0])
            for name, (items, absent) in sets.items()}


def fit_calibration(signals: dict[str, tuple[np.ndarray, ...]], *, fitted: dict | None = None,
                    examples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> Calibration:
    """The calibration fitted on the pooled val sets' :func:`set_signals` (and, given, their
    :func:`example_signals`). ``fitted`` (provenance) gains the counts and, pooled and per set (when
    several), the val hit rate, ECE, absent AUROC and the rates at the threshold."""
    pooled = [np.concatenate(parts) for parts in zip(*signals.values())]  # signals, hits, negative signals
    calibration = Calibration.fit(*pooled)
    calibration.fitted = {**(fitted or {}), **val_scores(calibration, *pooled)}
    if examples:
        calibration.example, calibration.fitted["example"] = fit_example(
            *(np.concatenate(parts) for parts in zip(*examples.values())))
    if len(signals) > 1:
        calibration.fitted["by_set"] = {name: val_scores(calibration, *one) for name, one in signals.items()}
    return calibration


def val_scores(calibration: Calibration, signals, hits, negative_signals) -> dict:
    from ..evaluation.metrics import auroc, expected_calibration_error

    confidence, presence = calibration.score(signals)
    negative_presence = calibration.presence(negative_signals)
    return {
        "samples": len(hits), "negatives": len(negative_signals),
        "val_hit_rate": float(np.mean(hits)), "val_ece": expected_calibration_error(confidence, hits),
        "val_absent_auroc": auroc(np.r_[presence, negative_presence],
                                  np.r_[np.ones(len(presence)), np.zeros(len(negative_presence))]),
        "val_false_point_rate": float((negative_presence >= calibration.threshold).mean()),
        "val_missed_present_rate": float((presence < calibration.threshold).mean()),
    }
