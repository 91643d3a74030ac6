"""One loader per dataset format; each returns a :class:`~partpoint.data.sample.PartDataset`."""

from __future__ import annotations

from .carparts import load_carparts
from .coco import load_coco
from .instructpart import load_instructpart, parse_instructions
from .labelmap import load_labelmap
from .pointarena import load_pointarena
from .yolo import load_yolo

__all__ = ["load_carparts", "load_coco", "load_instructpart", "load_labelmap", "load_pointarena", "load_yolo",
           "parse_instructions"]
