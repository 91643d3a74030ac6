"""``train_pointer``: heads -> feature caches -> AdamW + warmup/cosine epochs -> a saved pointer + log.

Runs under ``accelerate launch`` as well as in one plain process (``Accelerator(cpu=True)`` without a
GPU). Each process takes every ``world``-th batch of the epoch's plan; the plan depends only on
``(seed, epoch)``, so a resumed run (``resume=True``, from ``out_dir/checkpoint.pt``) repeats exactly
what the uninterrupted run would have done.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import CheckpointError, DataError
from ..io.atomic import atomic_write_json
from ..losses import LossTerms, pointer_loss
from ..pointer import PartPointer, PointerIdentity
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from .config import OptimConfig, TrainConfig
from .hits import attention_hit_rate, pointer_hit_rate
from .items import make_batch, plan_epoch, prepare_items
from .prepare import build_caches, resolve_heads
from .schedule import adamw_warmup_cosine

LOG_NAME = "train_log.json"


@dataclass
class TrainResult:
    """The trained pointer (best val epoch when val data was given, else the last), its directory, the
    log written to ``out_dir/train_log.json``, and whether training ran to its last epoch."""

    pointer: PartPointer | None
    out_dir: Path | None
    log: dict
    completed: bool


def decay_split(pointer) -> tuple[list, list]:
    """``(decay, no_decay)`` parameters: weight decay on weight matrices, conv kernels and latents; none on
    biases, norm affines and per-head scalars."""
    from torch import nn

    from ..pointer.qsynth import GroupedLayerNorm

    norms = (nn.LayerNorm, nn.GroupNorm, GroupedLayerNorm)
    exempt = {id(p) for m in pointer.modules() if isinstance(m, norms) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, param in pointer.named_parameters():
        skip = param.ndim < 2 or name.endswith("bias") or id(param) in exempt
        (no_decay if skip else decay).append(param)
    return decay, no_decay


def make_optimizer(pointer, optim: OptimConfig, total_steps: int):
    """AdamW (decay split by :func:`decay_split`) + linear warm-up and cosine decay per step."""
    decay, no_decay = decay_split(pointer)
    return adamw_warmup_cosine(
        [{"params": decay, "weight_decay": optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=optim.lr, total=total_steps, warmup=max(1, round(optim.warmup_frac * total_steps)),
        min_ratio=optim.min_lr_ratio)


def train_step(model, optimizer, scheduler, batch, config: TrainConfig, accelerator=None) -> LossTerms:
    """One optimisation step on a training :class:`PointerBatch`: forward, :func:`pointer_loss`, backward
    (through ``accelerator`` when given), global-norm clipping, optimiser and scheduler step."""
    import torch

    terms = pointer_loss(model(batch), batch.patch_target, batch.distance, config.loss, present=batch.present)
    if accelerator is not None:
        accelerator.backward(terms.total)
        accelerator.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
    else:
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return terms


def train_pointer(backbone, train_datasets, *, val_dataset=None, heads=None, out_dir,
                  config: TrainConfig | None = None, resume: bool = False, command: str = "") -> TrainResult:
    """Train a pointer for ``backbone`` on one or several datasets and save it in ``out_dir``.

    Args:
        backbone: a loaded :class:`partpoint.backbones.Backbone` (frozen; only encodes for the cache).
        train_datasets: a dataset or a list of them (``PartDataset``).
        val_dataset: optional, a dataset or a list of them; the (mean) hit rate picks the best epoch and is
            logged every epoch (each set's too when there are several).
        heads: ``[(layer, head), ...]``, a HeadSelection or a heads JSON path; None selects
            ``config.select.num_heads`` heads on the training data and writes ``out_dir/heads.json``.
        out_dir: receives ``model.safetensors`` + ``config.json`` (the pointer), ``train_log.json``,
            ``checkpoint.pt`` and, by default, the feature caches under ``cache/``.
        resume: continue from ``out_dir/checkpoint.pt`` (refused if it belongs to other settings).
        command: the command line to record in the log.
    """
    import torch
    from accelerate import Accelerator

    config = config or TrainConfig()
    datasets = list(train_datasets) if isinstance(train_datasets, (list, tuple)) else [train_datasets]
    out_dir = Path(out_dir)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    out_dir.mkdir(parents=True, exist_ok=True)
    start = None
    if config.init:  # fine-tuning: the pointer's heads and architecture, its weights as the start
        from ..pointer.model import resolve_pointer_dir

        given = None if config.init == "default" else config.init
        start = PartPointer.from_pretrained(resolve_pointer_dir(backbone.name, given))
        heads, config = list(start.identity.heads), replace(config, pointer=start.config)
    heads = resolve_heads(heads, backbone=backbone, datasets=datasets, out_dir=out_dir, config=config,
                          accelerator=accelerator, resume=resume)
    identity = PointerIdentity.of(backbone, heads)
    cache_dir = Path(config.cache_dir) if config.cache_dir else out_dir / "cache"
    val_datasets = ([] if val_dataset is None else
                    list(val_dataset) if isinstance(val_dataset, (list, tuple)) else [val_dataset])
    all_sets = datasets + val_datasets
    caches = build_caches(backbone, all_sets, heads=heads, cache_dir=cache_dir, accelerator=accelerator,
                          progress=config.progress and accelerator.is_main_process,
                          vision=config.pointer.reads_vision)
    train_caches, val_caches = caches[: len(datasets)], caches[len(datasets):]
    scale = config.pointer.upsample
    items, dropped = prepare_items([e for cache in train_caches for e in cache.entries()], scale=scale)
    if not items:
        raise DataError("no training sample has a visible part at the heatmap resolution; check the "
                        "training data")
    names = [c.key["dataset"] for c in val_caches]
    val_names = [f"{name} #{i + 1}" if names.count(name) > 1 else name for i, name in enumerate(names)]
    val_sets = {name: prepare_items(c.entries(), scale=scale)[0] for name, c in zip(val_names, val_caches)}
    attention = {name: attention_hit_rate(val) for name, val in val_sets.items() if val}
    log = {
        "command": command,
        "identity": identity.to_dict(),
        "config": config.to_dict(),
        "world_size": accelerator.num_processes,
        "train": [{"dataset": c.key["dataset"], "cache": str(c.directory), "samples": len(c),
                   "skipped": len(c.skipped)} for c in train_caches],
        "train_items": len(items),
        "train_dropped_at_heatmap_scale": len(dropped),
        "val": [{"dataset": name, "cache": str(c.directory), "samples": len(val_sets[name]),
                 "attention_baseline_hit_rate": attention.get(name)}
                for name, c in zip(val_names, val_caches)] or None,
        "val_attention_baseline_hit_rate": sum(attention.values()) / len(attention) if attention else None,
    }
    if start is not None and start.identity.fingerprint != identity.fingerprint:
        raise CheckpointError(f"--init pointer was trained on backbone {start.identity.backbone!r}, not "
                              f"{identity.backbone!r}; fine-tune a pointer of this backbone")
    return fit(items, identity=identity, config=config, val_items=val_sets, out_dir=out_dir, resume=resume,
               start=None if start is None else start.state_dict(),
               accelerator=accelerator, log=log, data={"caches": [c.directory.name for c in caches]})


def fit(items: list, *, identity: PointerIdentity, config: TrainConfig,
        val_items: list | dict[str, list] = (), out_dir=None, resume: bool = False, accelerator=None,
        log: dict | None = None, data: dict | None = None, start: dict | None = None) -> TrainResult:
    """The training loop: a fresh pointer (or one starting from the ``start`` state dict) trained on prepared
    ``items`` (:func:`prepare_items`) for
    ``config.optim.epochs`` epochs. With ``val_items`` (a list, or several val sets by name) every epoch is
    scored (the mean of the sets' hit rates) and the best one kept. With
    ``out_dir`` the pointer, ``train_log.json`` (``log`` plus the epochs) and a checkpoint after every epoch
    (and every ``checkpoint_every_steps``) are written there, and ``resume`` continues from that checkpoint;
    without it (the benchmark's ablations) nothing is written and the final pointer is returned.
    """
    import torch
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    is_main, world, rank = accelerator.is_main_process, accelerator.num_processes, accelerator.process_index
    out_dir = Path(out_dir) if out_dir is not None else None
    log = dict(log or {})
    val_sets = {name: val for name, val in (val_items if isinstance(val_items, dict)
                                            else {"val": list(val_items)}).items() if val}
    grids = [item.grid for item in items]
    batch_size = config.optim.batch_size
    steps_per_epoch = math.ceil(len(plan_epoch(grids, batch_size=batch_size, seed=config.seed,
                                               epoch=0)) / world)
    total_steps = steps_per_epoch * config.optim.epochs
    torch.manual_seed(config.seed)
    pointer = PartPointer(config.pointer, identity)
    if start is not None:
        pointer.load_state_dict(start)
    optimizer, scheduler = make_optimizer(pointer, config.optim, total_steps)
    model, optimizer = accelerator.prepare(pointer, optimizer)
    signature = {"train": config.signature(), "identity": identity.to_dict(),
                 "data": {**(data or {}), "world": world}}
    state = {"epoch": 0, "step": 0, "global_step": 0, "epoch_sums": [0.0, 0.0, 0.0, 0], "log": [],
             "best": {"epoch": None, "val_hit_rate": -1.0}, "wall_s": 0.0}
    checkpoint_path = out_dir / CHECKPOINT_NAME if out_dir is not None else None
    if resume and checkpoint_path is not None and checkpoint_path.is_file():
        saved = load_checkpoint(checkpoint_path, signature=signature)
        accelerator.unwrap_model(model).load_state_dict(saved["pointer"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["progress"]

    def save(run_state: dict) -> None:
        if is_main and out_dir is not None:
            save_checkpoint(checkpoint_path, pointer=accelerator.unwrap_model(model), optimizer=optimizer,
                            scheduler=scheduler, progress=run_state, signature=signature)
            atomic_write_json(out_dir / LOG_NAME,
                              {**log, "epochs": run_state["log"], "best": run_state["best"],
                                                   "wall_s": run_state["wall_s"], "status": "running"})

    start = time.monotonic() - state["wall_s"]
    steps_this_run = 0
    bar = tqdm(total=total_steps, initial=state["global_step"], desc="training pointer",
               disable=not (config.progress and is_main))
    while state["epoch"] < config.optim.epochs:
        epoch = state["epoch"]
        plan = plan_epoch(grids, batch_size=batch_size, seed=config.seed, epoch=epoch)
        plan = [plan[i % len(plan)] for i in range(steps_per_epoch * world)]  # every process: same step count
        model.train()
        for step in range(state["step"], steps_per_epoch):
            batch = make_batch(items, plan[step * world + rank], device=accelerator.device)
            terms = train_step(model, optimizer, scheduler, batch, config, accelerator)
            sums = state["epoch_sums"]
            state["epoch_sums"] = [sums[0] + float(terms.total.detach()), sums[1] + float(terms.bce),
                                   sums[2] + float(terms.sdf), sums[3] + 1]
            state["step"], state["global_step"] = step + 1, state["global_step"] + 1
            state["wall_s"] = time.monotonic() - start
            steps_this_run += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{state['epoch_sums'][0] / state['epoch_sums'][3]:.3f}")
            every = config.checkpoint_every_steps
            if every and state["global_step"] % every == 0:
                save(state)
            if config.stop_after_steps and steps_this_run >= config.stop_after_steps:
                save(state)
                bar.close()
                accelerator.wait_for_everyone()
                return TrainResult(pointer=None, out_dir=out_dir, log={**log, "epochs": state["log"]},
                                   completed=False)
        total, bce, sdf, count = state["epoch_sums"]
        record = {"epoch": epoch + 1, "steps": state["global_step"], "loss": total / max(count, 1),
                  "bce": bce / max(count, 1), "sdf": sdf / max(count, 1), "lr": scheduler.get_last_lr()[0]}
        if is_main and val_sets:
            hits = {name: pointer_hit_rate(accelerator.unwrap_model(model), val, device=accelerator.device)
                    for name, val in val_sets.items()}
            hit = sum(hits.values()) / len(hits)
            record["val_hit_rate"] = hit
            if len(hits) > 1:
                record["val_hit_rates"] = hits
            if hit > state["best"]["val_hit_rate"]:
                state["best"] = {"epoch": epoch + 1, "val_hit_rate": hit}
                if out_dir is not None:
                    accelerator.unwrap_model(model).save_pretrained(out_dir)
        state["wall_s"] = time.monotonic() - start
        record["wall_s"] = state["wall_s"]
        state["log"] = [*state["log"], record]
        state.update(epoch=epoch + 1, step=0, epoch_sums=[0.0, 0.0, 0.0, 0])
        save(state)
    bar.close()
    accelerator.wait_for_everyone()
    final_log = {**log, "epochs": state["log"], "best": state["best"], "wall_s": state["wall_s"],
                 "status": "completed"}
    trained = accelerator.unwrap_model(model).eval()
    if is_main and out_dir is not None:
        if not val_sets or state["best"]["epoch"] is None:
            trained.save_pretrained(out_dir)
        atomic_write_json(out_dir / LOG_NAME, final_log)
        trained = PartPointer.from_pretrained(out_dir).eval()  # the best epoch
    accelerator.wait_for_everyone()
    return TrainResult(pointer=trained if is_main else None, out_dir=out_dir, log=final_log, completed=True)
