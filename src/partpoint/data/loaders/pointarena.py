"""PointArena Point-Bench loader.

Layout (as the PointArena evaluator reads it, relative to the folder of ``data.json``): a list of
``{"image_filename", "category", "user_input", "mask_filename", "count"}``; image
``images/<category>/<image_filename>`` (falling back to ``images/<image_filename>``), mask
``masks/<mask_filename>`` (falling back to ``masks/<category>/<mask_filename>``), inside where any
channel is ``> 127``. Records without ``mask_filename`` are skipped, as the evaluator does.

The task category (``affordable``, ``counting``, ``spatial``, ``reasoning``, ``steerable``) is both
``object`` and ``category``; ``part`` is ``""`` (the queries are not part-structured). The query
``user_input`` is the instruction verbatim; ``meta["count"]`` keeps the expected number of points.
"""

from __future__ import annotations

from pathlib import Path

from ..sample import PartDataset, Record
from .common import read_json, require
from .masks import PngMask

MASK_THRESHOLD = 127


def load_pointarena(path: str | Path, *, name: str | None = None) -> PartDataset:
    """Open Point-Bench. path: the folder holding ``data.json``, or the JSON itself."""
    path = Path(path)
    json_path = path / "data.json" if path.is_dir() else path
    entries = read_json(json_path, what="PointArena data file")
    require(isinstance(entries, list),
            f"{json_path} is not a list of records; expected PointArena's data.json")
    root = json_path.parent
    records = []
    for n, entry in enumerate(entries):
        origin = f"{json_path.name} entry {n}"
        require(isinstance(entry, dict), f"{origin} is not an object; fix the JSON")
        if not entry.get("mask_filename"):
            continue
        require(isinstance(entry.get("image_filename"), str) and isinstance(entry.get("user_input"), str),
                f"{origin} lacks image_filename or user_input; fix the JSON")
        instruction = entry["user_input"].strip()
        require(bool(instruction), f"{origin} has an empty user_input; fix the JSON")
        category = str(entry.get("category", ""))
        image_filename, mask_filename = entry["image_filename"], entry["mask_filename"]
        records.append(
            Record(
                key=f"{category}/{Path(image_filename).stem}#{n}",
                image_paths=(root / "images" / category / image_filename, root / "images" / image_filename),
                instruction=instruction,
                mask=PngMask(paths=(root / "masks" / mask_filename,
                                    root / "masks" / category / mask_filename), threshold=MASK_THRESHOLD),
                object=category,
                part="",
                category=category,
                origin=origin,
                meta={"task": category, "count": int(entry.get("count") or 1), "entry": n},
            )
        )
    return PartDataset(records, name=name or f"pointarena:{root.name}", source="pointarena")
