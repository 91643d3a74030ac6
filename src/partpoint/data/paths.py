"""Where the shared real datasets (InstructPart dev, Car-Parts) live on the project's machines."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path("/work/shared/data")
