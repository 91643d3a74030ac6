"""DSMLR Car-Parts-Segmentation loader (COCO Annotator export, polygon segmentations).

One sample per annotation: object ``"car"``, part from the category name (underscores -> spaces),
category ``"car:<class>"``, e.g. ``"car:front_left_door"``. Category ``_background_`` is skipped.

Left and right are the *car's own* sides, as seen from the driver's seat; this is the annotators'
convention throughout the data: in every front view with both front lights annotated (195 images
over both splits) ``front_left_light`` lies on the image's right, and in every rear view (87) the
``back_left_light`` lies on the image's left; mirrors agree. Pass ``explicit_sides=True`` to say so in
the instruction ("... of the car, the car's own left.") for models that read left as the viewer's.

Wheels are phrased "Point to a wheel of the car." (several are usually visible, and an
annotation may hold 2-4 wheel polygons). When one image has several annotations of the same
class (only wheels, in practice), each of those samples' masks is the union of all of them, since
the instruction is satisfied by any; ``meta["merged_annotations"]`` lists the ids.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ..sample import PartDataset, Record
from .coco import image_candidates, read_coco
from .common import humanize
from .masks import CocoMask

#: Classes phrased with "a" (several instances per car).
PLURAL_PARTS = frozenset({"wheel"})
#: Everyday names for classes whose dataset name reads oddly ("front glass").
EVERYDAY_NAMES = {
    "front_glass": "windshield",
    "back_glass": "rear window",
    "front_left_light": "front left headlight",
    "front_right_light": "front right headlight",
    "back_left_light": "left tail light",
    "back_right_light": "right tail light",
    "left_mirror": "left side mirror",
    "right_mirror": "right side mirror",
}


def car_instruction(part_class: str, *, plural: bool, explicit_sides: bool = False,
                    everyday: bool = True) -> str:
    """The pointing instruction for one Car-Parts class, e.g. "Point to the front bumper of the car."."""
    part = EVERYDAY_NAMES.get(part_class, humanize(part_class)) if everyday else humanize(part_class)
    article = "a" if plural else "the"
    text = f"Point to {article} {part} of the car"
    if explicit_sides:
        side = "left" if "left" in part.split() else "right" if "right" in part.split() else None
        if side:
            text += f", the car's own {side}"
    return text + "."


def load_carparts(path: str | Path, *, explicit_sides: bool = False, everyday_names: bool = True,
                  name: str | None = None) -> PartDataset:
    """Open a Car-Parts split.

    path: a split folder holding ``annotations.json`` (and ``JPEGImages/``), or the JSON itself.
    explicit_sides: append "the car's own left/right" to left/right instructions.
    everyday_names: say "windshield", "front left headlight", ... (:data:`EVERYDAY_NAMES`) instead of
        the class names "front glass", "front left light"; ``part`` stays the class name either way.
    """
    path = Path(path)
    json_path = path / "annotations.json" if path.is_dir() else path
    _, _, kept = read_coco(json_path, what="Car-Parts annotation file")
    root = json_path.parent
    split = root.name
    same_class = defaultdict(list)  # (image_id, category) -> annotations
    for ann, _, category in kept:
        same_class[(ann["image_id"], category)].append(ann)

    records = []
    for ann, image, part_class in kept:
        origin = f"annotation {ann['id']} of {json_path}"
        group = same_class[(ann["image_id"], part_class)]
        plural = part_class in PLURAL_PARTS or len(group) > 1  # a door split by occlusion stays "the"
        candidates = image_candidates(root, image)
        meta = {"kind": "direct", "split": split, "annotation_id": ann["id"], "image_id": image["id"]}
        if len(group) > 1:
            meta["merged_annotations"] = [a["id"] for a in group]
        records.append(
            Record(
                key=f"{candidates[0].stem}/{ann['id']}",
                image_paths=candidates,
                instruction=car_instruction(part_class, plural=plural, explicit_sides=explicit_sides,
                                            everyday=everyday_names),
                mask=CocoMask(segmentations=tuple(a["segmentation"] for a in group),
                              height=int(image["height"]), width=int(image["width"]), name=origin),
                object="car",
                part=humanize(part_class),
                category=f"car:{part_class}",
                origin=origin,
                meta=meta,
            )
        )
    return PartDataset(records, name=name or f"carparts:{split}", source="carparts")
