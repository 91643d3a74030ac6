"""Negatives: an image with an instruction that names something the image does not show.

A robot must be told "not in the image" rather than get a point, so the pointer is trained and evaluated on
such pairs. :func:`negatives` builds them from any dataset without new annotations: for every image it
borrows instructions of other images whose subject is absent from this one. Absent means: when the dataset
has several object classes, an object class the image does not show (SynthParts, InstructPart); when it
has one (a car, a person), a part class not annotated in the image, i.e. hidden or missing (Car-Parts'
back bumper on a front view, Clothing Co-Parsing's hat on a bare head). A dataset with one object and one
part class (DoorDetect handles) has no negatives.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import replace

import numpy as np

from .sample import PartDataset, Record

ABSENT = "absent"  # Record.meta / Sample.meta flag of a negative


class NoPart:
    """The mask source of a negative: nothing to point at (``load_record`` gives an all-False mask)."""

    def load(self) -> np.ndarray:
        raise NotImplementedError("a negative's mask is all False at its image's size (load_record)")

    def describe(self) -> str:
        return "no part (a negative)"

    def __repr__(self) -> str:
        return "NoPart()"


def is_negative(sample_or_record) -> bool:
    """True for a record or sample built by :func:`negatives`."""
    return bool(getattr(sample_or_record, "meta", {}).get(ABSENT))


def negatives(dataset: PartDataset, *, per_image: int = 1, seed: int = 0) -> PartDataset:
    """Up to ``per_image`` negatives of every image of ``dataset`` (module docstring), each asking for a
    different absent class, drawn with ``seed`` (the same draw for the same dataset and seed); grouped by
    image, so the feature cache encodes each image once. Named ``<dataset>-negatives``."""
    records = dataset.records
    by_object = len({r.object for r in records}) > 1
    subject = (lambda r: r.object) if by_object else (lambda r: r.category)
    pool: dict[str, list[Record]] = defaultdict(list)  # subject -> its records
    shown: dict[str, set[str]] = defaultdict(set)  # image -> the subjects it shows
    first: dict[str, Record] = {}
    for record in records:
        pool[subject(record)].append(record)
        shown[record.image].add(subject(record))
        first.setdefault(record.image, record)
    subjects = sorted(pool)
    made = []
    for image, anchor in first.items():
        absent = [s for s in subjects if s not in shown[image]]
        if not absent:
            continue
        rng = np.random.default_rng([seed, zlib.crc32(image.encode("utf-8"))])
        for pick in rng.choice(len(absent), size=min(per_image, len(absent)), replace=False).tolist():
            donors = pool[absent[pick]]
            donor = donors[int(rng.integers(len(donors)))]
            made.append(replace(donor, key=f"{ABSENT}:{anchor.key}:{donor.key}",
                                image_paths=anchor.image_paths, mask=NoPart(),
                                origin=f"negative of {anchor.origin} asking {donor.origin}",
                                meta={**donor.meta, ABSENT: True}, image_id=image))
    return PartDataset(made, name=f"{dataset.name}-negatives", source=dataset.source)
