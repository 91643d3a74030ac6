"""Where the shared real datasets (InstructPart dev, Car-Parts) live: ``$PARTPOINT_DATA`` if set, else
``../shared/data`` beside the checkout (the project's layout; scripts/build_defaults.sh reads the same)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    """``$PARTPOINT_DATA``, else ``<checkout>/../shared/data`` (it may not exist; callers check)."""
    override = os.environ.get("PARTPOINT_DATA")
    return Path(override) if override else REPO.parent / "shared" / "data"


SHARED_DATA = shared_data_dir()
