"""Question-answer pairs about the Car-Parts training photos (no coordinates, boxes or masks).

Only the part *labels* of each photo are read from the COCO ``annotations.json``; the polygons are
used for one thing, counting wheels (one polygon per visible wheel). Question types:

- ``car_visible``: "Is the hood visible?" -> "yes" / "no" (balanced: as many absent parts as present).
- ``car_wheels``: "How many wheels are visible?" -> "zero" / "one" / "two". Each wheel polygon counts one;
  photos with more than two wheel polygons (split outlines) are not asked.
- ``car_view``: "Is this the front or the back of the car?" -> "front" / "back". Rule: a photo is a
  front view when it shows >= 2 of {hood, front bumper, front glass} and none of {back bumper,
  back glass, tailgate, trunk}; a back view when it shows >= 2 of the back set and none of the front
  set; otherwise (side and three-quarter views) the question is not asked.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field

from .text import NUMBER_WORDS, QA

FRONT_PARTS = frozenset({"hood", "front_bumper", "front_glass"})
BACK_PARTS = frozenset({"back_bumper", "back_glass", "tailgate", "trunk"})

_VISIBLE_TEMPLATES = ("Is the {part} visible?", "Can you see the {part} of the car?", "Is there a {part} in the photo?")
_WHEEL_TEMPLATES = ("How many wheels are visible?", "How many wheels of the car can you see?")
_VIEW_TEMPLATES = ("Is this the front or the back of the car?", "Does the photo show the front or the back of the car?")


@dataclass
class CarPhoto:
    """One training photo: its file and the set of annotated part classes."""

    path: str
    key: str
    parts: frozenset[str]
    wheels: int
    extra: dict = field(default_factory=dict)


def part_phrase(name: str) -> str:
    """``"front_left_door"`` -> ``"front left door"``."""
    return name.replace("_", " ")


def view_of(parts: frozenset[str]) -> str | None:
    """``"front"``, ``"back"`` or None (ambiguous) by the rule in the module docstring."""
    front, back = len(parts & FRONT_PARTS), len(parts & BACK_PARTS)
    if front >= 2 and back == 0:
        return "front"
    if back >= 2 and front == 0:
        return "back"
    return None


def load_car_photos(root: str) -> tuple[list[CarPhoto], list[str]]:
    """Read ``root/annotations.json`` -> (photos sorted by key, all part class names)."""
    from partpoint.errors import DataError

    ann_path = os.path.join(root, "annotations.json")
    if not os.path.isfile(ann_path):
        raise DataError(f"no annotations.json in {root}; pass the Car-Parts trainingset folder")
    with open(ann_path) as f:
        coco = json.load(f)
    names = {c["id"]: c["name"] for c in coco["categories"] if not c["name"].startswith("_")}
    parts: dict[int, set[str]] = {}
    wheels: dict[int, int] = {}
    for a in coco["annotations"]:
        name = names.get(a["category_id"])
        if name is None:
            continue
        parts.setdefault(a["image_id"], set()).add(name)
        if name == "wheel":
            wheels[a["image_id"]] = wheels.get(a["image_id"], 0) + len(a["segmentation"])
    photos = []
    for im in coco["images"]:
        if im["id"] not in parts:
            continue
        rel = im.get("path") or os.path.join("JPEGImages", im["file_name"])
        photos.append(
            CarPhoto(
                path=os.path.join(root, rel),
                key=f"carparts/{im['file_name']}",
                parts=frozenset(parts[im["id"]]),
                wheels=wheels.get(im["id"], 0),
            )
        )
    photos.sort(key=lambda p: p.key)
    return photos, sorted(set(names.values()))


def car_questions(photo: CarPhoto, all_parts: list[str], *, rng: random.Random) -> list[QA]:
    """All questions about one photo (visibility balanced yes/no, wheel count, view when unambiguous)."""
    present = sorted(photo.parts)
    absent = [p for p in all_parts if p not in photo.parts]
    rng.shuffle(absent)
    qas = []
    for part in present:
        qas.append(QA(rng.choice(_VISIBLE_TEMPLATES).format(part=part_phrase(part)), "yes", "car_visible"))
    for part in absent[: len(present)]:
        qas.append(QA(rng.choice(_VISIBLE_TEMPLATES).format(part=part_phrase(part)), "no", "car_visible"))
    if photo.wheels <= 2:
        qas.append(QA(rng.choice(_WHEEL_TEMPLATES), NUMBER_WORDS[photo.wheels], "car_wheels"))
    view = view_of(photo.parts)
    if view is not None:
        qas.append(QA(rng.choice(_VIEW_TEMPLATES), view, "car_view"))
    return qas
