"""Before the training loop: which heads, and the feature caches of the training and val data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..heads import read_heads, select_heads
from .cache import FeatureCache

HEADS_NAME = "heads.json"


class ConcatDataset:
    """Several datasets read as one (``len`` and ``ds[i]``), e.g. for head selection."""

    def __init__(self, datasets: Sequence):
        self.datasets = list(datasets)

    def __len__(self) -> int:
        return sum(len(ds) for ds in self.datasets)

    def __getitem__(self, index: int):
        for ds in self.datasets:
            if index < len(ds):
                return ds[index]
            index -= len(ds)
        raise IndexError(index)


def resolve_heads(heads, *, backbone, datasets, out_dir: Path, config, accelerator,
                  resume: bool) -> list[tuple[int, int]]:
    """Given heads as they are; otherwise reuse ``out_dir/heads.json`` when resuming, or select
    ``config.select.num_heads``
    heads on the training data (main process; the others read the file it writes)."""
    if heads is not None:
        return read_heads(heads)
    path = out_dir / HEADS_NAME
    if resume and path.is_file():
        return read_heads(path)
    with accelerator.main_process_first():
        if accelerator.is_main_process:
            selection = select_heads(
                backbone,
                ConcatDataset(datasets),
                k=config.select.num_heads,
                n_samples=config.select.select_samples,
                layers=list(config.select.select_layers) if config.select.select_layers else None,
                seed=config.seed,
                progress=config.select_progress and config.progress,
            )
            path.write_text(selection.to_json())
        return read_heads(path)


def build_caches(backbone, datasets, *, heads, cache_dir: Path, accelerator, progress: bool,
                 batch_size: int = 8, vision: bool = False) -> list[FeatureCache]:
    """One complete :class:`FeatureCache` per dataset, its shards encoded by every process (each its
    share); ``vision``: with the vision patches a presence head reads."""
    return [
        FeatureCache.build(
            backbone, ds, heads=heads, cache_dir=cache_dir, progress=progress and accelerator.is_main_process,
            batch_size=batch_size, rank=accelerator.process_index, world=accelerator.num_processes,
            wait=accelerator.wait_for_everyone, vision=vision,
        )
        for ds in datasets
    ]
