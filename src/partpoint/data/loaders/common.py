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


#: Direct instructions naming the part and its object, from the templates SynthParts' style asks for: the
#: first set for train/val splits, the second held out for test (a model is never tuned on the test phrasing).
DIRECT_TEMPLATES = {"train": ("Point to the {part} of the {object}.", "Where is the {object}'s {part}?",
                              "Show me the {part} of the {object}."),
                    "test": ("Can you find the {part} of the {object}?", "Indicate the {object}'s {part}.")}
LONE_TEMPLATES = {"train": ("Point to the {part}.", "Where is the {part}?"),
                  "test": ("Can you find the {part}?",)}


def phrase(key: str, *, part: str, obj: str | None, split: str,
           tasks: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``[(kind, instruction)]`` for one target: a direct instruction (``"direct"``) and, when the class has
    task phrasings (``tasks``, with ``{object}``), one that never names the part (``"reason"``)."""
    held_out = "test" if split == "test" else "train"
    templates = (DIRECT_TEMPLATES if obj else LONE_TEMPLATES)[held_out]
    out = [("direct", pick_template(key, templates).format(part=part, object=obj))]
    if tasks and obj:
        out.append(("reason", pick_template(key, tasks).format(object=obj)))
    return out


def skip(origin: str, reason: str) -> None:
    """Report a bad annotation (file and line, or annotation) that is skipped: the run goes on."""
    import warnings

    from ...errors import DataWarning

    warnings.warn(f"{origin}: {reason} (skipped)", DataWarning, stacklevel=3)
