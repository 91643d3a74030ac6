"""Add a presence head to a trained pointer: the head alone is trained (the rest frozen, so pointing is
unchanged) on cached training records and their negatives, each record with its image's vision patches."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..pointer import PartPointer
from .items import make_batch, plan_epoch
from .schedule import adamw_warmup_cosine


def with_presence_head(pointer: PartPointer, *, dim: int, vision_dim: int, seed: int = 0) -> PartPointer:
    """A copy of ``pointer`` with a fresh presence head of width ``dim`` (its other weights kept)."""
    from dataclasses import replace

    torch.manual_seed(seed)
    grown = PartPointer(replace(pointer.config, presence_dim=dim), replace(pointer.identity,
                                                                           vision_dim=vision_dim))
    missing, unexpected = grown.load_state_dict(pointer.state_dict(), strict=False)
    if unexpected or any(not name.startswith("presence.") for name in missing):
        raise RuntimeError(f"cannot grow a presence head: missing {missing}, unexpected {unexpected}")
    return grown


def head_logits(pointer: PartPointer, batch) -> torch.Tensor:
    """``(B,)`` presence logits of a batch: the head alone (what ``pointer(batch).presence_logit`` gives,
    without running Q-Synth and A2P)."""
    return pointer.presence(batch.q_text, batch.text_mask, batch.vision)


@torch.no_grad()
def presence_logits(pointer: PartPointer, items: list, *, batch_size: int = 64) -> np.ndarray:
    """``(N,)`` presence logits of prepared ``items`` (item order)."""
    was_training = pointer.training
    pointer.eval()
    out = np.zeros(len(items))
    for indices in plan_epoch([item.grid for item in items], batch_size=batch_size, seed=0, epoch=0):
        out[indices] = head_logits(pointer, make_batch(items, indices)).double().numpy()
    pointer.train(was_training)
    return out


def fit_presence(pointer: PartPointer, items: list, *, epochs: int, lr: float, batch_size: int = 64,
                 weight_decay: float = 1e-4, seed: int = 0, val_items: list | dict[str, list] = (),
                 progress: bool = True) -> tuple[PartPointer, list[dict]]:
    """Train ``pointer.presence`` alone on prepared ``items`` (records with ``vision``; negatives have
    ``present=False``), positives and negatives weighted to equal shares. With ``val_items`` (positives and
    negatives; or several such sets by name) each epoch's absent-part AUROC is logged (per set, and their
    mean, which picks the best epoch, so that no set's logit scale dominates). Returns the pointer and the
    per-epoch log."""
    from tqdm.auto import tqdm

    from ..evaluation.metrics import auroc

    if pointer.presence is None:
        raise ValueError("the pointer has no presence head; grow one with with_presence_head")
    present = np.array([item.present for item in items])
    if present.all() or not present.any():
        raise ValueError("training a presence head needs both present records and negatives")
    positive_weight = float((~present).sum() / present.sum())
    grids = [item.grid for item in items]
    steps = epochs * len(plan_epoch(grids, batch_size=batch_size, seed=seed, epoch=0))
    optimizer, scheduler = adamw_warmup_cosine(
        [{"params": list(pointer.presence.parameters()), "weight_decay": weight_decay}], lr=lr, total=steps,
        warmup=max(1, steps // 20), min_ratio=0.05)
    torch.manual_seed(seed)
    pointer.train()
    val_sets = val_items if isinstance(val_items, dict) else ({"val": list(val_items)} if val_items else {})
    log, best = [], (-1.0, None)
    bar = tqdm(total=steps, desc="training presence head", unit="step", disable=not progress)
    for epoch in range(epochs):
        begin, total = time.perf_counter(), 0.0
        for indices in plan_epoch(grids, batch_size=batch_size, seed=seed, epoch=epoch):
            batch = make_batch(items, indices)
            target = batch.present.float()
            weight = torch.where(batch.present, torch.tensor(positive_weight), torch.tensor(1.0))
            logits = head_logits(pointer, batch)  # only the head runs, so only it gets gradients
            loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(indices)
            bar.update(1)
        record = {"epoch": epoch + 1, "loss": total / len(items), "wall_s": time.perf_counter() - begin}
        if val_sets:
            by_set = {name: auroc(presence_logits(pointer, val), np.array([i.present for i in val], float))
                      for name, val in val_sets.items()}
            record["val_absent_auroc"] = float(np.mean(list(by_set.values())))
            if len(by_set) > 1:
                record["val_absent_auroc_by_set"] = by_set
            if record["val_absent_auroc"] > best[0]:
                best = (record["val_absent_auroc"], copy.deepcopy(pointer.presence.state_dict()))
        log.append(record)
        bar.set_postfix({k: round(v, 3) for k, v in record.items() if isinstance(v, float)})
    bar.close()
    if best[1] is not None:
        pointer.presence.load_state_dict(best[1])
    return pointer.eval(), log
