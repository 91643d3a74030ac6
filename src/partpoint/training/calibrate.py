"""Fit a pointer's :class:`~partpoint.pointer.confidence.Calibration` on cached val records and their
negatives (no image decoding: the points, signals and hits come from the feature cache)."""

from __future__ import annotations

import numpy as np
import torch

from ..pointer.confidence import SIGNALS, Calibration, point_signals
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


def set_signals(pointer, sets: dict[str, tuple[list, list]]) -> dict[str, tuple[np.ndarray, ...]]:
    """Val sets ``name -> (items, negatives)`` (prepared; negatives ``present=False``) -> ``name -> (signals
    (N, S), hits (N,), negative signals (M, S))`` of the pointer's points."""
    return {name: (*cached_signals(pointer, items), cached_signals(pointer, absent)[0])
            for name, (items, absent) in sets.items()}


def fit_calibration(signals: dict[str, tuple[np.ndarray, ...]], *, fitted: dict | None = None) -> Calibration:
    """The calibration fitted on the pooled val sets' :func:`set_signals`. ``fitted`` (provenance) gains the
    counts and, pooled and per set (when several), the val hit rate, ECE, absent AUROC and the rates at the
    threshold."""
    pooled = [np.concatenate(parts) for parts in zip(*signals.values())]  # signals, hits, negative signals
    calibration = Calibration.fit(*pooled)
    calibration.fitted = {**(fitted or {}), **val_scores(calibration, *pooled)}
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
