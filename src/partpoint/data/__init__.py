"""Part-grounding datasets: one :class:`Sample` type and lazy :class:`PartDataset` for every format."""

from __future__ import annotations

from .loaders import load_instructpart, parse_instructions
from .sample import PartDataset, Record, Sample

__all__ = ["PartDataset", "Record", "Sample", "load_instructpart", "parse_instructions"]
