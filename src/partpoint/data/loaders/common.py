"""Helpers shared by the format loaders: JSON reading with clear errors, names, template choice."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import DataError


def read_json(path: Path, *, what: str) -> Any:
    """Parse ``path``; a missing or malformed file is a one-line :class:`DataError`."""
    if not path.is_file():
        hint = "it is a directory; pass the JSON file or its folder" if path.is_dir() else "check the path"
        raise DataError(f"{what} not found: {path}; {hint}")
    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{what} {path} is not valid JSON ({e}); re-export or re-download it") from None


def humanize(name: str) -> str:
    """``"front_left_door"`` -> ``"front left door"``."""
    return " ".join(name.replace("_", " ").split())


def pick_template(key: str, templates: Sequence[str]) -> str:
    """Deterministic template choice from a sample key (same key, same template, across runs)."""
    if not templates:
        raise DataError("no instruction templates given; pass at least one, e.g. 'Point to the {part} of "
                        "the {object}.'")
    return templates[zlib.crc32(key.encode("utf-8")) % len(templates)]


def require(condition: bool, message: str) -> None:
    """Raise a :class:`DataError` with ``message`` unless ``condition``."""
    if not condition:
        raise DataError(message)
