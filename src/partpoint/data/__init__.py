"""Part-grounding datasets: one :class:`Sample` type and a lazy :class:`PartDataset` for every format.

``open_dataset(spec)`` opens any of them from one string (see :mod:`partpoint.data.registry`).
"""

from __future__ import annotations

from .loaders import load_carparts, load_coco, load_instructpart, load_pointarena, parse_instructions
from .registry import FORMATS, open_dataset
from .sample import PartDataset, Record, Sample

__all__ = ["FORMATS", "PartDataset", "Record", "Sample", "load_carparts", "load_coco", "load_instructpart",
           "load_pointarena", "open_dataset", "parse_instructions"]
