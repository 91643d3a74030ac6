"""The one sample type every dataset format loads into, and the lazy dataset that yields it.

A loader parses its JSON once into :class:`Record` objects (paths, text, an undecoded mask
source); :class:`PartDataset` turns a record into a :class:`Sample` only when it is indexed, so
opening a dataset never decodes an image or a mask.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, overload

import numpy as np
from PIL import Image

from ..errors import DataError
from ..io.images import load_image


@dataclass
class Sample:
    """One (image, instruction, part mask) triple.

    image: RGB PIL image, upright (EXIF applied), ``W x H``.
    mask: ``(H, W)`` bool, True inside the part; same size as ``image``; all False for a negative
        (``meta["absent"]``, :mod:`partpoint.data.negatives`: the instruction names something not shown).
    category: ``"object:part"`` (PointArena: its task category, e.g. ``"spatial"``).
    image_id: which picture this is (samples of one image share it: the feature cache encodes the image once).
    meta: ``source`` (format name), ``key`` (stable unique id), ``image_path``, and where known
        ``kind`` ("direct"/"reason"), ``instruction_index``, ``split``, ``scene``.
    """

    image: Image.Image
    instruction: str
    mask: np.ndarray
    object: str
    part: str
    category: str
    meta: dict
    image_id: str = ""


class MaskSource(Protocol):
    """Where a record's mask comes from; decoded only by :meth:`load`."""

    def load(self) -> np.ndarray:
        """Return the ``(H, W)`` bool mask; raise :class:`DataError` when it cannot be read."""
        ...

    def describe(self) -> str:
        """A short human name for error messages (a file path, an annotation id)."""
        ...


@dataclass(frozen=True, eq=False)
class Record:
    """Everything about one sample except its pixels.

    image_paths: candidate paths, the first that exists is used (formats whose layout varies).
    origin: where the record was read from, for error messages (e.g. ``"data_test.json entry 12"``).
    image_id: which picture (default: its first candidate path; SynthParts: the scene, whose parts are
        written as separate files of the same pixels).
    """

    key: str
    image_paths: tuple[Path, ...]
    instruction: str
    mask: MaskSource
    object: str
    part: str
    category: str
    origin: str
    meta: dict = field(default_factory=dict)
    image_id: str = ""

    @property
    def image(self) -> str:
        """The record's :attr:`image_id`, or its first candidate image path."""
        return self.image_id or str(self.image_paths[0] if self.image_paths else self.key)


def resolve_image(record: Record) -> Path:
    for path in record.image_paths:
        if path.is_file():
            return path
    tried = " or ".join(str(p) for p in record.image_paths)
    raise DataError(f"image file not found: {tried} ({record.origin}); restore the image or fix its path in "
                    "the JSON")


def load_record(record: Record, *, source: str) -> Sample:
    """Decode a record's image and mask into a :class:`Sample`, checking they agree."""
    image_path = resolve_image(record)
    image = load_image(image_path)
    meta = {"source": source, "key": record.key, "image_path": str(image_path), **record.meta}
    common = dict(image=image, instruction=record.instruction, object=record.object, part=record.part,
                  category=record.category, meta=meta, image_id=record.image)
    if record.meta.get("absent"):  # a negative (data.negatives): nothing to point at
        return Sample(mask=np.zeros((image.height, image.width), dtype=bool), **common)
    try:
        mask = record.mask.load()
    except DataError as e:  # add which record needed the mask: "<problem> (<origin>); <fix>"
        problem, _, fix = str(e).partition("; ")
        where = f"{problem} ({record.origin})"
        raise DataError(f"{where}; {fix}" if fix else where) from None
    if mask.shape != (image.height, image.width):
        mh, mw = mask.shape
        raise DataError(
            f"mask {record.mask.describe()} is {mw}x{mh} but image {image_path} is "
            f"{image.width}x{image.height} ({record.origin}); re-export the mask at the image size"
        )
    if not mask.any():
        raise DataError(f"mask {record.mask.describe()} is empty ({record.origin}); fix the annotation or "
                        "drop the record")
    return Sample(mask=mask, **common)


def held_out(image_id: str, percent: int) -> bool:
    """Whether the image ``image_id`` falls in the last ``percent`` per cent by the crc32 of its id: the same
    images for the same ids, whatever else a dataset holds."""
    return zlib.crc32(image_id.encode("utf-8")) % 100 >= 100 - percent


class PartDataset(Sequence[Sample]):
    """A lazily loaded sequence of :class:`Sample`.

    ``ds[i]`` reads the image and mask of record ``i``; ``ds.key(i)``, ``ds.categories`` and
    ``len(ds)`` never touch pixels. ``ds[a:b]`` and ``ds.subset(indices)`` return datasets that
    share the records.
    """

    def __init__(self, records: Sequence[Record], *, name: str, source: str) -> None:
        self.records: tuple[Record, ...] = tuple(records)
        self.name = name
        self.source = source
        seen: set[str] = set()
        for record in self.records:
            if record.key in seen:
                raise DataError(f"dataset {name} has duplicate sample key {record.key!r}; every record "
                                "needs a distinct key")
            seen.add(record.key)

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> PartDataset: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.subset(range(len(self))[index])
        return load_record(self.records[self._check_index(index)], source=self.source)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample index {index} out of range for dataset {self.name} of {n} samples")
        return index % n

    def key(self, index: int) -> str:
        """Stable unique id of sample ``index`` (no pixel loading); the feature cache keys on it."""
        return self.records[self._check_index(index)].key

    def image_id(self, index: int) -> str:
        """Which picture sample ``index`` shows (no pixel loading): samples of one image share it."""
        return self.records[self._check_index(index)].image

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.records]

    @property
    def categories(self) -> list[str]:
        """Sorted distinct category names (no pixel loading)."""
        return sorted({r.category for r in self.records})

    def subset(self, indices: Sequence[int] | range) -> PartDataset:
        """A dataset of the records at ``indices`` (in that order), same name and source."""
        picked = [self.records[self._check_index(int(i))] for i in indices]
        return PartDataset(picked, name=self.name, source=self.source)

    def hold_out(self, percent: int) -> tuple[PartDataset, PartDataset]:
        """``(kept, held)``: the records of the images :func:`held_out` at ``percent`` are held (named
        ``<name>-held<percent>``): a val split carved from a training set that has none. The hash reads the
        image id as the dataset spells it (a path as given): spell the dataset's path the same way wherever
        the same split is meant (``../shared/data/x`` and ``/work/shared/data/x`` hold out other images)."""
        held = [held_out(r.image, percent) for r in self.records]
        kept = [r for r, h in zip(self.records, held) if not h]
        return (PartDataset(kept, name=self.name, source=self.source),
                PartDataset([r for r, h in zip(self.records, held) if h], name=f"{self.name}-held{percent}",
                            source=self.source))

    def __repr__(self) -> str:
        return f"PartDataset(name={self.name!r}, source={self.source!r}, samples={len(self)})"
