"""The pretraining loop: AdamW + linear warmup + cosine decay, step-count stopping, exact resume.

A checkpoint (model, optimizer, scheduler, RNG states, step, loss history) is written atomically
(tmp file + ``os.replace``) every ``checkpoint_every_s`` seconds or ``checkpoint_every_steps`` steps,
and at the end. Batches depend only on ``(seed, step)`` (see :class:`BatchSampler`), so ``resume=True``
continues exactly where the checkpoint left off.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class LoopConfig:
    steps: int = 1000
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    checkpoint_every_s: float = 240.0
    checkpoint_every_steps: int | None = None
    progress: bool = True


@dataclass
class LoopResult:
    step: int
    losses: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def final_loss(self) -> float:
        tail = self.losses[-50:]
        return float(sum(tail) / max(len(tail), 1))


def _optimizer(model, config: LoopConfig):
    """AdamW (betas 0.9 / 0.98; decay on matrices except embeddings) + warmup/cosine (``training.schedule``)."""
    from ..training.schedule import adamw_warmup_cosine

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return adamw_warmup_cosine(groups, lr=config.lr, betas=(0.9, 0.98), total=config.steps,
                               warmup=config.warmup_steps, min_ratio=config.min_lr_ratio)


def save_checkpoint(path: str, *, model, optimizer, scheduler, result: LoopResult) -> None:
    """Write the full training state atomically (``training.checkpoint.write_state``)."""
    from ..training.checkpoint import write_state

    write_state(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "step": result.step, "losses": result.losses,
                       "wall_s": result.wall_s})


def load_checkpoint(path: str, *, model, optimizer, scheduler) -> LoopResult:
    """Restore what :func:`save_checkpoint` wrote (weights, optimiser, scheduler, RNG states)."""
    from ..training.checkpoint import read_state, restore_rng

    state = read_state(path, what="pretraining")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_rng(state["rng"])
    return LoopResult(step=state["step"], losses=list(state["losses"]), wall_s=float(state["wall_s"]))


def train_loop(model, sampler, *, out_dir: str, config: LoopConfig, resume: bool = False) -> LoopResult:
    """Train ``model`` on ``sampler.batch(step)`` for ``config.steps`` steps; returns the loss history."""
    import torch
    from tqdm.auto import tqdm

    optimizer, scheduler = _optimizer(model, config)
    path = os.path.join(out_dir, CHECKPOINT_NAME)
    result = LoopResult(step=0)
    if resume and os.path.isfile(path):
        result = load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    model.train()
    start = time.monotonic() - result.wall_s
    last_save = time.monotonic()
    bar = tqdm(total=config.steps, initial=result.step, desc="pretrain", disable=not config.progress)
    while result.step < config.steps:
        batch = sampler.batch(result.step)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.step += 1
        result.losses.append(float(loss.detach()))
        result.wall_s = time.monotonic() - start
        bar.update(1)
        bar.set_postfix(loss=f"{result.final_loss:.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        due_steps = config.checkpoint_every_steps and result.step % config.checkpoint_every_steps == 0
        if due_steps or time.monotonic() - last_save > config.checkpoint_every_s:
            save_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, result=result)
            last_save = time.monotonic()
    bar.close()
    save_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, result=result)
    model.eval()
    return result
