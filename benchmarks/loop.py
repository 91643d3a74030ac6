"""A bare pointer-training loop over prepared cache items (``partpoint.training.prepare_items``).

The ablations train many pointers from ONE feature cache (a k < 7 run slices the first k heads), so
they call this loop instead of ``train_pointer`` (which builds one cache per head set). It is the same
recipe and the same step (``partpoint.training.train_step``), batches bucketed by grid.
"""

from __future__ import annotations

import math
import time

import torch

from partpoint.pointer import PartPointer
from partpoint.training import TrainConfig, make_batch, plan_epoch
from partpoint.training.loop import make_optimizer
from partpoint.training.loop import train_step as pointer_train_step


def slice_heads(items: list[dict], k: int) -> list[dict]:
    """Items keeping only the first ``k`` heads: ``q_text (k, L, d)``, ``k_image``/``v_image (k, P, d)``,
    ``attn_last (k, P)``, ``attn_mass (k,)``."""
    names = ("q_text", "k_image", "v_image", "attn_last", "attn_mass")
    return [{**item, **{name: item[name][:k] for name in names}} for item in items]


def train_step(pointer, optimizer, scheduler, batch, config: TrainConfig) -> float:
    """One optimisation step on a ``make_batch`` batch (``partpoint.training.train_step``); returns the loss."""
    return float(pointer_train_step(pointer, optimizer, scheduler, batch, config).total.detach())


def train_on_items(items: list[dict], *, pointer_config, config: TrainConfig) -> tuple[PartPointer, dict]:
    """Train a fresh pointer for ``config.optim.epochs`` epochs on ``items``; returns it and
    ``{"losses": per-epoch mean loss, "steps": int, "wall_s": float, "epoch_s": [...]}``."""
    torch.manual_seed(config.seed)
    pointer = PartPointer(pointer_config)
    grids = [item["grid"] for item in items]
    steps_per_epoch = len(plan_epoch(grids, batch_size=config.optim.batch_size, seed=config.seed, epoch=0))
    optimizer, scheduler = make_optimizer(pointer, config.optim, steps_per_epoch * config.optim.epochs)
    pointer.train()
    losses, epoch_s, start = [], [], time.perf_counter()
    for epoch in range(config.optim.epochs):
        epoch_start, total = time.perf_counter(), 0.0
        plan = plan_epoch(grids, batch_size=config.optim.batch_size, seed=config.seed, epoch=epoch)
        for indices in plan:
            total += train_step(pointer, optimizer, scheduler, make_batch(items, indices), config)
        losses.append(total / max(len(plan), 1))
        epoch_s.append(time.perf_counter() - epoch_start)
    pointer.eval()
    return pointer, {"losses": losses, "steps": steps_per_epoch * config.optim.epochs,
                     "wall_s": time.perf_counter() - start, "epoch_s": epoch_s,
                     "final_loss": losses[-1] if losses else math.nan}
