"""One loader per dataset format; each returns a :class:`~partpoint.data.sample.PartDataset`."""

from __future__ import annotations

from .instructpart import load_instructpart, parse_instructions

__all__ = ["load_instructpart", "parse_instructions"]
