"""On-disk feature cache: the frozen backbone runs ONCE per sample, training and sweeps read fp16 shards.

A cache lives in ``cache_dir/<dataset>-<hash>/`` where the hash covers the backbone fingerprint, the
captured heads, the stored mask scales, the format version and the dataset's identity (sample keys,
image paths, instructions; no pixels are read). ``key.json`` holds the full key; a directory whose
key differs is refused, never reused. Samples are written in shards of ``shard_size`` consecutive
samples, each atomically (tmp file + ``os.replace``), so an interrupted build resumes: completed
shards are kept and only missing ones are encoded.

One cached entry (``cache[i]``)::

    key            str, the dataset's stable sample key
    category       str, "object:part"
    q_text         (k, L, d) fp16   post-RoPE text queries of the selected heads (pre-RoPE: key "queries")
    k_image        (k, P, d) fp16   post-RoPE image keys (pre-RoPE: key "keys")
    v_image        (k, P, d) fp16   image values
    attn_last      (k, P)    fp16   final prompt token's attention over the image (rows sum to 1)
    attn_mass      (k,)      fp32   its raw mass on the image (``attn_last * attn_mass`` = raw attention)
    patch_target   (P,)      fp16   fraction of each grid cell inside the part (``grid_mask``)
    masks          {s: (P_h*s*P_w*s/8,) uint8}  ``sample_mask(mask, scale=s)`` packed with np.packbits
    grid           (P_h, P_w);  geometry  GridGeometry.to_json();  image_size  (W, H)

Samples whose part covers no heatmap cell at the finest scale are skipped (listed in the shard).

Several processes (``accelerate launch``) build one cache together: process ``rank`` of ``world``
encodes the missing shards ``s`` with ``s % world == rank`` (disjoint, and together every missing
shard), and the main process writes ``index.json`` (shards, entries, skipped, which process wrote
each shard) once all are done. Consecutive samples of one image (a SynthParts scene's several
instructions) share one image-prefix pass (``Backbone.encode`` with a list); other samples are encoded
in batches of ``batch_size``. The progress bar shows the throughput in samples/s.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import PartPointError
from ..io.atomic import atomic_write, atomic_write_text

CACHE_VERSION = 2  # 2: attn_mass
KEY_NAME = "key.json"
INDEX_NAME = "index.json"
DEFAULT_MASK_SCALES = (1, 2, 4, 8)


class CacheError(PartPointError, ValueError):
    """A feature cache is unreadable, or belongs to another backbone, head set or dataset."""


def dataset_fingerprint(dataset) -> str:
    """Hash of a dataset's identity without reading pixels: keys, image paths and instructions."""
    digest = hashlib.sha256()
    records = getattr(dataset, "records", None)
    for i in range(len(dataset)):
        if records is not None:
            record = records[i]
            parts = (record.key, str(record.image_paths[0]) if record.image_paths else "", record.instruction)
        else:
            parts = (dataset.key(i),)
        digest.update("\x1f".join(parts).encode() + b"\x1e")
    return digest.hexdigest()[:16]


def cache_key(backbone, dataset, heads, *, mask_scales=DEFAULT_MASK_SCALES, queries: str = "post_rope",
              keys: str = "post_rope") -> dict:
    """Everything a cache's content depends on (``queries`` / ``keys`` only when not the default, so caches
    built before the options existed keep their key)."""
    return {**({"queries": queries} if queries != "post_rope" else {}),
        **({"keys": keys} if keys != "post_rope" else {}),
        "version": CACHE_VERSION,
        "backbone": str(getattr(backbone, "name", "")),
        "fingerprint": str(backbone.fingerprint),
        "heads": [[int(layer), int(head)] for layer, head in heads],
        "mask_scales": [int(s) for s in mask_scales],
        "dataset": str(getattr(dataset, "name", "dataset")),
        "dataset_fingerprint": dataset_fingerprint(dataset),
        "num_samples": len(dataset),
    }


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return cleaned.strip("_.")[:48] or "dataset"


def _key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def unpack_mask(packed: torch.Tensor | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of ``np.packbits(mask.ravel())`` -> ``shape`` bool."""
    flat = np.unpackbits(np.asarray(packed, dtype=np.uint8), count=shape[0] * shape[1])
    return flat.reshape(shape).astype(bool)


def entry_mask(entry: dict, scale: int) -> np.ndarray:
    """The entry's part mask at heatmap scale ``s``: ``(P_h * s, P_w * s)`` bool."""
    if scale not in entry["masks"]:
        raise CacheError(
            f"the cache holds masks at scales {sorted(entry['masks'])}, not {scale}; rebuild it with that scale"
        )
    grid_h, grid_w = entry["grid"]
    return unpack_mask(entry["masks"][scale], (grid_h * scale, grid_w * scale))


def make_entry(features, sample, heads, *, mask_scales=DEFAULT_MASK_SCALES, queries: str = "post_rope",
               keys: str = "post_rope") -> dict | None:
    """One cache entry from a backbone ``Features`` and its ``Sample``; None when the part covers no
    cell of the finest mask scale (nothing to point at)."""
    from ..pointer import gather_heads

    gathered = gather_heads(features, heads, queries=queries, keys=keys)
    sampled = {int(s): features.sample_mask(sample.mask, scale=int(s)) for s in mask_scales}  # (P_h*s, P_w*s)
    if not sampled[max(sampled)].any():
        return None
    masks = {scale: torch.from_numpy(np.packbits(mask.ravel())) for scale, mask in sampled.items()}
    attn = torch.stack([torch.as_tensor(features.layers[layer].attn_last[head]).float().cpu() for layer, head in heads])
    mass = torch.stack([torch.as_tensor(features.layers[layer].attn_last_mass[head]).float().cpu()
                        for layer, head in heads])
    return {
        "key": sample.meta.get("key", ""),
        "category": sample.category,
        "q_text": gathered["q_text"].half(),  # (k, L, d)
        "k_image": gathered["k_image"].half(),  # (k, P, d)
        "v_image": gathered["v_image"].half(),  # (k, P, d)
        "attn_last": attn.half(),  # (k, P)
        "attn_mass": mass,  # (k,)
        "patch_target": torch.from_numpy(features.grid_mask(sample.mask).ravel()).half(),  # (P,)
        "masks": masks,
        "grid": tuple(int(g) for g in features.grid),
        "geometry": features.geometry.to_json(),
        "image_size": tuple(int(s) for s in features.image_size),
    }


@dataclass
class FeatureCache:
    """A built (or partly built) cache directory. Create it with :meth:`build` or :meth:`open`.

    ``len(cache)`` counts the usable entries; ``cache[i]`` / iteration read them (shards are loaded on
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
            raise CacheError(f"feature cache {directory} has no readable {KEY_NAME} ({error}); delete it and rebuild") from None
        if expect is not None and stored.get("key") != expect:
            changed = sorted(k for k in set(expect) | set(stored.get("key", {})) if stored.get("key", {}).get(k) != expect.get(k))
            raise CacheError(
                f"feature cache {directory} was built for a different {', '.join(changed)}; delete it or use another --cache-dir"
            )
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
        queries: str = "post_rope",
        keys: str = "post_rope",
    ) -> FeatureCache:
        """Encode every sample of ``dataset`` not cached yet (resuming an interrupted build) and return
        the cache. A directory for the same key is reused; a different key gets its own directory.

        ``rank`` / ``world`` / ``wait`` (a barrier, e.g. ``accelerator.wait_for_everyone``): build one cache
        from several processes, each encoding its share of the shards (module docstring).
        ``reuse_prefix=False``: no grouping by image, every sample in the batches (same entries).
        ``queries="pre_rope"``: ``q_text`` holds the text queries before RoPE (``PointerConfig.qsynth_queries``);
        ``keys="pre_rope"``: ``k_image`` holds the image keys before RoPE (``PointerConfig.image_keys``).
        """
        wait = wait or (lambda: None)
        heads = [(int(layer), int(head)) for layer, head in heads]
        key = cache_key(backbone, dataset, heads, mask_scales=mask_scales, queries=queries, keys=keys)
        directory = cls.location(cache_dir, key)
        if rank == 0 and not (directory / KEY_NAME).is_file():
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write_text(directory / KEY_NAME, json.dumps({"key": key, "shard_size": shard_size}, indent=2))
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
            raise CacheError(f"feature cache {self.directory} has no readable {INDEX_NAME} ({error}); finish it with "
                             "FeatureCache.build") from None

    def _write_index(self) -> None:
        if not self.complete:
            raise CacheError(f"feature cache {self.directory} lacks shards {self.missing_shards()} after the build; "
                             "a process failed: run the build again to finish it")
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
        queries, keys = self.key.get("queries", "post_rope"), self.key.get("keys", "post_rope")
        pre_rope = "pre_rope" in (queries, keys)
        total = sum(len(self._shard_indices(i)) for i in shards)
        who = f" (process {rank + 1}/{world})" if world > 1 else ""
        bar = tqdm(total=total, desc=f"caching {self.key['dataset']}{who}", unit="sample", disable=not progress,
                   dynamic_ncols=True)
        for shard in shards:
            entries, skipped = [], []
            indices = self._shard_indices(shard)
            groups = _image_groups(dataset, indices, batch_size) if reuse_prefix else \
                [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
            for group in groups:
                samples = [dataset[i] for i in group]
                if reuse_prefix and len(samples) > 1 and _same_image(dataset, group):  # one image, several instructions
                    feats = backbone.encode(samples[0].image, [s.instruction for s in samples], layers=layers,
                                            pre_rope=pre_rope)
                else:
                    feats = backbone.encode_batch([s.image for s in samples], [s.instruction for s in samples],
                                                  layers=layers, pre_rope=pre_rope)
                for sample, features in zip(samples, feats):
                    entry = make_entry(features, sample, heads, mask_scales=scales, queries=queries, keys=keys)
                    if entry is None:
                        skipped.append(sample.meta.get("key", ""))
                    else:
                        entries.append(entry)
                bar.update(len(samples))
            _atomic_torch_save({"entries": entries, "skipped": skipped, "rank": rank}, self.shard_path(shard))
        bar.close()

    def _shard_indices(self, shard: int) -> list[int]:
        start = shard * self.shard_size
        return list(range(start, min(start + self.shard_size, int(self.key["num_samples"]))))

    def _shard(self, index: int) -> dict:
        shards = self.__dict__.setdefault("_loaded", {})
        if index not in shards:
            path = self.shard_path(index)
            if not path.is_file():
                raise CacheError(f"feature cache {self.directory} lacks {path.name}; finish it with FeatureCache.build")
            try:
                shards[index] = torch.load(path, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, EOFError) as error:
                raise CacheError(f"cache shard {path} is corrupt ({error}); delete it and rebuild") from None
        return shards[index]

    def entries(self) -> list[dict]:
        """Every usable entry, in dataset order (loaded once, then kept)."""
        if "_entries" not in self.__dict__:
            self.__dict__["_entries"] = [e for i in range(self.num_shards) for e in self._shard(i)["entries"]]
        return self.__dict__["_entries"]

    @property
    def skipped(self) -> list[str]:
        return [key for i in range(self.num_shards) for key in self._shard(i)["skipped"]]

    def __len__(self) -> int:
        return len(self.entries())

    def __getitem__(self, index: int) -> dict:
        return self.entries()[index]

    def __iter__(self):
        return iter(self.entries())


_DIGESTS: dict[str, str] = {}  # image file -> sha1 of its bytes (memo for _image_of)


def _image_of(dataset, index: int):
    """Which image sample ``index`` shows, without decoding it: the digest of its file's bytes (datasets
    such as SynthParts write one identical file per part of a scene). None when the dataset cannot tell."""
    records = getattr(dataset, "records", None)
    if records is None:
        return None
    path = next((p for p in records[index].image_paths if Path(p).is_file()), None)
    if path is None:
        return None
    key = str(path)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    return _DIGESTS[key]


def _same_image(dataset, indices: list[int]) -> bool:
    first = _image_of(dataset, indices[0])
    return first is not None and all(_image_of(dataset, i) == first for i in indices)


def _image_groups(dataset, indices: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive samples of one image form a group (its prefix is encoded once); the other samples go
    in batches of ``batch_size``. Dataset order is kept."""
    groups, singles, i = [], [], 0
    while i < len(indices):
        j = i + 1
        image = _image_of(dataset, indices[i])
        while image is not None and j < len(indices) and _image_of(dataset, indices[j]) == image:
            j += 1
        if j - i > 1:
            if singles:
                groups.append(singles)
                singles = []
            groups.append(indices[i:j])
        else:
            singles.append(indices[i])
            if len(singles) == batch_size:
                groups.append(singles)
                singles = []
        i = j
    if singles:
        groups.append(singles)
    return groups


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))
