"""Pointer training from a feature cache: ``train_pointer(backbone, datasets, out_dir=..., config=TrainConfig())``."""

from __future__ import annotations

from .config import TrainConfig
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
from .loop import TrainResult, lr_multiplier, train_pointer
from .prepare import ConcatDataset, read_heads

__all__ = [
    "ConcatDataset",
    "TrainConfig",
    "TrainResult",
    "attention_hit_rate",
    "attention_points",
    "hit_rate",
    "lr_multiplier",
    "make_batch",
    "mean_outside_distance",
    "plan_epoch",
    "point_hits",
    "pointer_hit_rate",
    "pointer_points",
    "prepare_items",
    "read_heads",
    "train_pointer",
]
