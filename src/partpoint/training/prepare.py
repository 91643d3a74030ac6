"""Before the training loop: which heads, and the feature caches of the training and val data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..cache import FeatureCache
from ..errors import DataError
from ..heads import HeadSelection, select_heads

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


def read_heads(source) -> list[tuple[int, int]]:
    """Heads from a :class:`HeadSelection`, a list of ``(layer, head)`` pairs, or a JSON file holding
    either a HeadSelection (``{"heads": [[l, h], ...]}``) or a plain list of pairs."""
    if isinstance(source, HeadSelection):
        return list(source.heads)
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise DataError(f"cannot read heads file {path} ({error}); pass the JSON `partpoint select-heads` wrote") from None
        source = raw.get("heads") if isinstance(raw, dict) else raw
    try:
        heads = [(int(layer), int(head)) for layer, head in source]
    except (TypeError, ValueError):
        raise DataError("heads must be [(layer, head), ...] pairs; pass a select-heads JSON or such a list") from None
    if not heads:
        raise DataError("no heads given; pass at least one (layer, head) pair or let training select them")
    return heads


def resolve_heads(heads, *, backbone, datasets, out_dir: Path, config, accelerator, resume: bool) -> list[tuple[int, int]]:
    """Given heads as they are; otherwise reuse ``out_dir/heads.json`` when resuming, or select ``config.k``
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
                k=config.k,
                n_samples=config.select_samples,
                layers=list(config.select_layers) if config.select_layers else None,
                rules=config.select_rules,
                seed=config.seed,
                progress=config.select_progress and config.progress,
            )
            path.write_text(selection.to_json())
        return read_heads(path)


def build_caches(backbone, datasets, *, heads, cache_dir: Path, accelerator, progress: bool,
                 batch_size: int = 8) -> list[FeatureCache]:
    """One complete :class:`FeatureCache` per dataset, its shards encoded by every process (each its share)."""
    return [
        FeatureCache.build(
            backbone, ds, heads=heads, cache_dir=cache_dir, progress=progress and accelerator.is_main_process,
            batch_size=batch_size, rank=accelerator.process_index, world=accelerator.num_processes,
            wait=accelerator.wait_for_everyone,
        )
        for ds in datasets
    ]
