"""COCO instance/part JSON (polygons or RLE), as CVAT, Label Studio, Roboflow, COCO Annotator and PACO write
it.

A category named ``"object:part"`` (PACO's style, e.g. ``"mug:handle"``) is a part of that object; when a
file has any such category, only those are targets and the plain-named annotations are their objects, lending
a ``refexp`` ("red mug") through the part's ``obj_ann_id``. Otherwise every category is a target, its object
the category's ``supercategory``, else ``object=``, else none ("Point to the handle."). Categories whose name
starts with ``_`` (``_background_``) are ignored. Annotations of one class in one image are one target, their
masks unioned (any instance satisfies "the handle of the mug"), unless each names its own instance by refexp.

Instructions: :func:`~partpoint.data.loaders.common.phrase` (held-out templates when the file or its folder
is a test split), or ``templates`` with ``{part}`` and ``{object}``. A bad annotation (unknown category or
image, no usable polygon, zero area, a box outside the image) is reported with file and annotation id and
skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ..sample import PartDataset, Record
from .common import humanize, phrase, pick_template, read_json, require, skip
from .masks import CocoMask


def _usable(segmentation) -> bool:
    if isinstance(segmentation, dict):
        return "counts" in segmentation
    return isinstance(segmentation, list) and any(isinstance(p, list) and len(p) >= 6 for p in segmentation)


def _inside(ann: dict, image: dict) -> bool:
    box = ann.get("bbox")
    if not box or len(box) != 4:
        return True
    x, y, w, h = (float(v) for v in box)
    return x < image["width"] and y < image["height"] and x + w > 0 and y + h > 0


def read_coco(json_path: Path, *, what: str = "COCO annotation file"):
    """``(data, category names, [(annotation, image, category name)])``: the file's valid annotations
    (ignored categories left out); bad ones are reported and skipped."""
    data = read_json(json_path, what=what)
    require(isinstance(data, dict) and all(k in data for k in ("images", "categories", "annotations")),
            f"{json_path} lacks images/categories/annotations; expected a COCO instance JSON")
    names = {c["id"]: str(c["name"]) for c in data["categories"]}
    images = {im["id"]: im for im in data["images"]}
    kept = []
    for ann in data["annotations"]:
        origin = f"{json_path}: annotation {ann.get('id')}"
        category, image = names.get(ann.get("category_id")), images.get(ann.get("image_id"))
        if category is None:
            skip(origin, f"unknown category_id {ann.get('category_id')}")
        elif category.startswith("_"):
            continue
        elif image is None:
            skip(origin, f"unknown image_id {ann.get('image_id')}")
        elif not _usable(ann.get("segmentation")) or ann.get("area", 1) == 0:
            skip(origin, "no polygon of 3+ points or RLE, or zero area")
        elif not _inside(ann, image):
            skip(origin, "box outside the image")
        else:
            kept.append((ann, image, category))
    return data, names, kept


def image_candidates(root: Path, image: dict) -> tuple[Path, ...]:
    """Where an image entry's file may be: its ``path`` (COCO Annotator), or ``file_name`` under the root,
    ``images/`` or ``JPEGImages/``."""
    file_name = str(image.get("file_name") or Path(str(image.get("coco_url", ""))).name)
    found = (root / str(image["path"]),) if image.get("path") else ()
    return found + tuple(root / d / file_name for d in ("", "images", "JPEGImages"))


def _object_phrase(refexp: str) -> str:
    phrase_ = " ".join(str(refexp).split())
    return phrase_[4:] if phrase_.lower().startswith("the ") else phrase_


def load_coco(json_path: str | Path, images: str | Path | None = None, *, object: str | None = None,
              templates: Sequence[str] | None = None, name: str | None = None) -> PartDataset:
    """Open a COCO-style part dataset (module docstring).

    json_path: the annotation JSON. images: the image root (default: the JSON's folder).
    object: the object of plain-named categories without a supercategory.
    templates: instruction templates with ``{part}`` and ``{object}`` (default: train/test templates).
    """
    json_path = Path(json_path)
    data, names, kept = read_coco(json_path)
    root = Path(images) if images is not None else json_path.parent
    paco = any(":" in n for n in names.values())
    supercategory = {c["id"]: str(c.get("supercategory") or "") for c in data["categories"]}
    by_id = {a["id"]: a for a in data["annotations"] if "id" in a}
    stem = json_path.stem
    split = stem.removeprefix("paco_") if stem.startswith("paco_") else json_path.parent.name
    split = "test" if "test" in split or "test" in json_path.stem else split

    groups = defaultdict(list)  # (image id, category, refexp-named instance or None) -> annotations
    for ann, image, category in kept:
        if paco and ":" not in category:
            continue
        refexp = by_id.get(ann.get("obj_ann_id"), {}).get("refexp")
        groups[(image["id"], category, ann["id"] if refexp else None)].append((ann, image, refexp))

    records = []
    for (_, category, _), members in groups.items():
        ann, image, refexp = members[0]
        if ":" in category:
            obj, part = (humanize(s) for s in category.split(":", 1))
        else:
            obj, part = humanize(supercategory[ann["category_id"]]) or object or None, humanize(category)
        candidates = image_candidates(root, image)
        key = f"{candidates[-1].stem}/{ann['id']}"
        said = _object_phrase(refexp) if refexp else obj
        text = (pick_template(key, templates).format(part=part, object=said) if templates
                else phrase(key, part=part, obj=said, split=split)[0][1])
        origin = f"annotation {ann['id']} of {json_path.name}"
        meta = {"kind": "direct", "split": split, "annotation_id": ann["id"], "image_id": image["id"]}
        if refexp:
            meta["refexp"] = refexp
        if len(members) > 1:
            meta["merged_annotations"] = [a["id"] for a, _, _ in members]
        records.append(Record(
            key=key, image_paths=candidates, instruction=text,
            mask=CocoMask(segmentations=tuple(a["segmentation"] for a, _, _ in members),
                          height=int(image["height"]), width=int(image["width"]), name=origin),
            object=obj or "", part=part,
            category=category if ":" in category else f"{obj or 'any'}:{category}",
            origin=origin, meta=meta))
    return PartDataset(records, name=name or f"coco:{json_path.stem}", source="paco" if paco else "coco")
