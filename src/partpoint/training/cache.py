"""On-disk feature cache: the frozen backbone runs ONCE per sample, training and sweeps read fp16 shards.

A cache lives in ``cache_dir/<dataset>-<hash>/`` where the hash covers the backbone fingerprint, the
captured heads, the stored mask scales, the format version and the dataset's identity (sample keys,
image ids, instructions and mask sources: an edited polygon or box, or a box read as its ellipse, makes
another cache; no pixels are read, so a mask PNG rewritten in place is not seen: delete its cache).
``key.json`` holds the full key; a directory whose key differs is refused, never reused. Samples are written
in shards of ``shard_size`` consecutive samples, each atomically, so an interrupted build resumes: completed
shards are kept and only missing ones are encoded.

One cached sample is a :class:`partpoint.pointer.SampleFeatures` (``cache[i]``): the selected heads' features
in fp16, the sample's key, category and image id, the part's coverage of every grid cell and its mask sampled
at each of ``mask_scales`` (packed bits). Samples whose part covers no heatmap cell at the finest scale are
skipped (listed in the shard); negatives (:mod:`partpoint.data.negatives`) are kept with ``present=False``.

Several processes (``accelerate launch``) build one cache together: process ``rank`` of ``world``
encodes the missing shards ``s`` with ``s % world == rank`` (disjoint, and together every missing
shard), and the main process writes ``index.json`` (shards, entries, skipped, which process wrote
each shard) once all are done. Consecutive samples of one image (``Sample.image_id``: a SynthParts scene's
several instructions) share one image-prefix pass (``Backbone.encode_many``); other samples are encoded
in batches of ``batch_size``. The progress bar shows the throughput in samples/s.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import PartPointError
from ..io.atomic import atomic_torch_save, atomic_write_text
from ..pointer import SampleFeatures

CACHE_VERSION = 3  # 3: SampleFeatures records
KEY_NAME = "key.json"
INDEX_NAME = "index.json"
DEFAULT_MASK_SCALES = (1, 2, 4, 8)


class CacheError(PartPointError, ValueError):
    """A feature cache is unreadable, or belongs to another backbone, head set or dataset."""


def dataset_fingerprint(dataset) -> str:
    """Hash of a dataset's identity without reading pixels: keys, image ids, instructions, mask sources."""
    digest = hashlib.sha256()
    for record in dataset.records:
        fields = (record.key, record.image, record.instruction, repr(record.mask))
        digest.update("\x1f".join(fields).encode() + b"\x1e")
    return digest.hexdigest()[:16]


def cache_key(backbone, dataset, heads, *, mask_scales=DEFAULT_MASK_SCALES, vision: bool = False) -> dict:
    """Everything a cache's content depends on (``vision``: the records also hold the vision patches)."""
    key = {
        "version": CACHE_VERSION,
        "backbone": str(getattr(backbone, "name", "")),
        "fingerprint": str(backbone.fingerprint),
        "heads": [[int(layer), int(head)] for layer, head in heads],
        "mask_scales": [int(s) for s in mask_scales],
        "dataset": str(getattr(dataset, "name", "dataset")),
        "dataset_fingerprint": dataset_fingerprint(dataset),
        "num_samples": len(dataset),
    }
    return key | {"vision": True} if vision else key


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return cleaned.strip("_.")[:48] or "dataset"


def _key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def with_mask(record: SampleFeatures, mask: np.ndarray, *,
              mask_scales=DEFAULT_MASK_SCALES) -> SampleFeatures | None:
    """``record`` with the part ``mask`` (H, W) of its image as its target (coverage and sampled masks); None
    when the part covers no cell of the finest mask scale (nothing to point at). No backbone pass: another
    target of the same picture and instruction (a box's inscribed ellipse) reuses the cached features."""
    geometry, size = record.geometry, record.image_size
    sampled = {int(s): geometry.sample_mask(mask, image_size=size, scale=int(s)) for s in mask_scales}
    if not sampled[max(sampled)].any():
        return None
    coverage = torch.from_numpy(geometry.grid_mask(mask, image_size=size).ravel()).float()  # (P,)
    return replace(record, coverage=coverage,
                   masks={scale: torch.from_numpy(np.packbits(m.ravel())) for scale, m in sampled.items()})


def make_record(features, sample, heads, *, mask_scales=DEFAULT_MASK_SCALES) -> SampleFeatures | None:
    """The cached record of one ``Sample`` from its backbone ``Features`` (see :func:`with_mask`); a negative
    (``meta["absent"]``) is kept with ``present=False`` and empty masks."""
    record = replace(SampleFeatures.of(features, heads), key=sample.meta.get("key", ""),
                     category=sample.category, image_id=sample.image_id)
    if sample.meta.get("absent"):
        return replace(record, present=False, coverage=torch.zeros(math.prod(record.grid)),
                       masks={int(s): torch.from_numpy(np.packbits(np.zeros(math.prod(record.grid) * s * s,
                                                                            dtype=bool)))
                              for s in mask_scales})
    return with_mask(record, sample.mask, mask_scales=mask_scales)


@dataclass
class FeatureCache:
    """A built (or partly built) cache directory. Create it with :meth:`build` or :meth:`open`.

    ``len(cache)`` counts the usable records; ``cache[i]`` / iteration read them (shards are loaded on
    demand and kept in memory); ``cache.skipped`` lists the keys of samples without a visible part.
    """

    directory: Path
    key: dict
    shard_size: int

    @property
    def num_shards(self) -> int:
        return -(-int(self.key["num_samples"]) // self.shard_size)

    def shard_path(self, index: int) -> Path:
        return self.directory / f"shard_{index:05d}.pt"

    def missing_shards(self) -> list[int]:
        return [i for i in range(self.num_shards) if not self.shard_path(i).is_file()]

    @property
    def complete(self) -> bool:
        return not self.missing_shards()

    @classmethod
    def location(cls, cache_dir, key: dict) -> Path:
        return Path(cache_dir) / f"{_slug(key['dataset'])}-{_key_hash(key)}"

    @classmethod
    def open(cls, directory, *, expect: dict | None = None) -> FeatureCache:
        """Open an existing cache directory; with ``expect``, refuse one whose key differs."""
        directory = Path(directory)
        try:
            stored = json.loads((directory / KEY_NAME).read_text())
        except (OSError, ValueError) as error:
            raise CacheError(f"feature cache {directory} has no readable {KEY_NAME} ({error}); delete it "
                             "and rebuild") from None
        if expect is not None and stored.get("key") != expect:
            stored_key = stored.get("key", {})
            changed = sorted(k for k in set(expect) | set(stored_key) if stored_key.get(k) != expect.get(k))
            raise CacheError(f"feature cache {directory} was built for a different {', '.join(changed)}; "
                             "delete it or use another --cache-dir")
        return cls(directory=directory, key=stored["key"], shard_size=int(stored["shard_size"]))

    @classmethod
    def build(
        cls,
        backbone,
        dataset,
        *,
        heads: list[tuple[int, int]],
        cache_dir: str | os.PathLike,
        mask_scales: tuple[int, ...] = DEFAULT_MASK_SCALES,
        shard_size: int = 64,
        batch_size: int = 8,
        progress: bool = True,
        rank: int = 0,
        world: int = 1,
        wait=None,
        reuse_prefix: bool = True,
        vision: bool = False,
    ) -> FeatureCache:
        """Encode every sample of ``dataset`` not cached yet (resuming an interrupted build) and return
        the cache. A directory for the same key is reused; a different key gets its own directory.

        ``rank`` / ``world`` / ``wait`` (a barrier, e.g. ``accelerator.wait_for_everyone``): build one cache
        from several processes, each encoding its share of the shards (module docstring).
        ``reuse_prefix=False``: no grouping by image, every sample in the batches (same records).
        ``vision``: the records also hold their image's vision patch features (a presence head reads them).
        """
        wait = wait or (lambda: None)
        heads = [(int(layer), int(head)) for layer, head in heads]
        key = cache_key(backbone, dataset, heads, mask_scales=mask_scales, vision=vision)
        directory = cls.location(cache_dir, key)
        if rank == 0 and not (directory / KEY_NAME).is_file():
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write_text(directory / KEY_NAME,
                              json.dumps({"key": key, "shard_size": shard_size}, indent=2))
        wait()
        cache = cls.open(directory, expect=key)
        mine = [shard for shard in cache.missing_shards() if shard % world == rank]
        if mine:
            cache._encode(backbone, dataset, heads, mine, batch_size=batch_size, progress=progress, rank=rank,
                          world=world, reuse_prefix=reuse_prefix)
        wait()
        if rank == 0:
            cache._write_index()
        wait()
        return cache

    @property
    def index(self) -> dict:
        """``index.json``: shards, entries, skipped and which process wrote each shard."""
        try:
            return json.loads((self.directory / INDEX_NAME).read_text())
        except (OSError, ValueError) as error:
            raise CacheError(f"feature cache {self.directory} has no readable {INDEX_NAME} ({error}); "
                             "finish it with FeatureCache.build") from None

    def _write_index(self) -> None:
        if not self.complete:
            raise CacheError(f"feature cache {self.directory} lacks shards {self.missing_shards()} after "
                             "the build; a process failed: run the build again to finish it")
        shards = [self._shard(i) for i in range(self.num_shards)]
        index = {
            "num_shards": self.num_shards,
            "entries": sum(len(s["entries"]) for s in shards),
            "skipped": sum(len(s["skipped"]) for s in shards),
            "written_by": [int(s.get("rank", 0)) for s in shards],
        }
        atomic_write_text(self.directory / INDEX_NAME, json.dumps(index, indent=2))

    def _encode(self, backbone, dataset, heads, shards, *, batch_size: int, progress: bool, rank: int = 0,
                world: int = 1, reuse_prefix: bool = True) -> None:
        from tqdm.auto import tqdm

        layers = sorted({layer for layer, _ in heads})
        scales = tuple(self.key["mask_scales"])
        vision = bool(self.key.get("vision"))
        total = sum(len(self._shard_indices(i)) for i in shards)
        who = f" (process {rank + 1}/{world})" if world > 1 else ""
        bar = tqdm(total=total, desc=f"caching {self.key['dataset']}{who}", unit="sample",
                   disable=not progress,
                   dynamic_ncols=True)
        for shard in shards:
            entries, skipped = [], []
            indices = self._shard_indices(shard)
            groups = _image_groups(dataset, indices, batch_size) if reuse_prefix else \
                [(False, indices[i : i + batch_size]) for i in range(0, len(indices), batch_size)]
            for one_image, group in groups:
                samples = [dataset[i] for i in group]
                texts = [s.instruction for s in samples]
                feats = backbone.encode_many(samples[0].image, texts, layers=layers, vision=vision) \
                    if one_image else backbone.encode_batch([s.image for s in samples], texts, layers=layers,
                                                            vision=vision)
                for sample, features in zip(samples, feats):
                    record = make_record(features, sample, heads, mask_scales=scales)
                    if record is None:
                        skipped.append(sample.meta.get("key", ""))
                    else:
                        entries.append(record.to_state())
                bar.update(len(samples))
            atomic_torch_save({"entries": entries, "skipped": skipped, "rank": rank}, self.shard_path(shard))
        bar.close()

    def _shard_indices(self, shard: int) -> list[int]:
        start = shard * self.shard_size
        return list(range(start, min(start + self.shard_size, int(self.key["num_samples"]))))

    def _shard(self, index: int) -> dict:
        shards = self.__dict__.setdefault("_loaded", {})
        if index not in shards:
            path = self.shard_path(index)
            if not path.is_file():
                raise CacheError(f"feature cache {self.directory} lacks {path.name}; finish it with "
                                 "FeatureCache.build")
            try:
                shards[index] = torch.load(path, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, EOFError) as error:
                raise CacheError(f"cache shard {path} is corrupt ({error}); delete it and rebuild") from None
        return shards[index]

    def entries(self) -> list[SampleFeatures]:
        """Every usable record, in dataset order (loaded once, then kept)."""
        if "_entries" not in self.__dict__:
            self.__dict__["_entries"] = [SampleFeatures.from_state(e) for i in range(self.num_shards)
                                         for e in self._shard(i)["entries"]]
        return self.__dict__["_entries"]

    @property
    def skipped(self) -> list[str]:
        return [key for i in range(self.num_shards) for key in self._shard(i)["skipped"]]

    def __len__(self) -> int:
        return len(self.entries())

    def __getitem__(self, index: int) -> SampleFeatures:
        return self.entries()[index]

    def __iter__(self):
        return iter(self.entries())


def _image_groups(dataset, indices: list[int], batch_size: int) -> list[tuple[bool, list[int]]]:
    """``(one image, indices)`` groups in dataset order: consecutive samples of one image (``image_id``) form
    a group whose image prefix is encoded once; the other samples go in batches of ``batch_size``."""
    groups, singles, i = [], [], 0
    while i < len(indices):
        j = i + 1
        while j < len(indices) and dataset.image_id(indices[j]) == dataset.image_id(indices[i]):
            j += 1
        if j - i > 1:
            if singles:
                groups.append((False, singles))
                singles = []
            groups.append((True, indices[i:j]))
        else:
            singles.append(indices[i])
            if len(singles) == batch_size:
                groups.append((False, singles))
                singles = []
        i = j
    if singles:
        groups.append((False, singles))
    return groups
