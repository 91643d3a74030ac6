"""Pointer training from a feature cache: ``train_pointer(backbone, datasets, out_dir=...,
config=TrainConfig())``."""

from __future__ import annotations

from .config import LossConfig, OptimConfig, PointerConfig, SelectConfig, TrainConfig
from .hits import (
                   attention_hit_rate,
                   attention_points,
                   hit_rate,
                   mean_outside_distance,
                   point_hits,
                   pointer_hit_rate,
                   pointer_points,
)
from .items import make_batch, plan_epoch, prepare_items
from .loop import TrainResult, fit, train_pointer, train_step
from .prepare import ConcatDataset
from .schedule import warmup_cosine

__all__ = [
    "ConcatDataset", "TrainConfig", "LossConfig", "OptimConfig", "PointerConfig", "SelectConfig",
    "TrainResult", "attention_hit_rate", "attention_points", "fit", "hit_rate", "make_batch",
    "mean_outside_distance", "plan_epoch", "point_hits", "pointer_hit_rate", "pointer_points",
    "prepare_items", "train_pointer", "train_step", "warmup_cosine"
]
