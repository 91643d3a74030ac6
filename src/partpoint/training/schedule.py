"""The optimiser recipe every training loop shares: AdamW over parameter groups, linear warmup, cosine decay.

Used by pointer training (``training/loop.py``) and the projector alignment (``recipe/align.py``); each says
which parameters get weight decay.
"""

from __future__ import annotations

import math


def warmup_cosine(step: int, *, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the base lr at ``step``: linear warmup to 1 over ``warmup`` steps, then cosine decay
    to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def adamw_warmup_cosine(groups, *, lr: float, total: int, warmup: int, min_ratio: float, betas=(0.9, 0.999),
                        weight_decay: float = 0.0):
    """``(AdamW over groups, LambdaLR of :func:`warmup_cosine`)``; ``groups``: parameters or param-group dicts
    (``weight_decay`` applies to groups that do not set their own). The scheduler steps once per batch."""
    import torch

    optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, total=total, warmup=warmup, min_ratio=min_ratio))
    return optimizer, scheduler
