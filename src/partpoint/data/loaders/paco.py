"""PACO (LVIS-style JSON) loader; also reads SynthParts' ``paco_<split>.json``.

One sample per *part* annotation: an annotation whose category name is ``"object:part"`` (e.g.
``"mug:handle"``); object annotations (plain names) only lend their ``refexp``. Segmentations are
polygons or RLE (``counts`` a str or a list), decoded with pycocotools on access. Part annotations
with ``area == 0`` are skipped at construction (nothing to point at).

Instructions come from templates with ``{part}`` and ``{object}`` (underscores -> spaces), chosen
per sample by a stable hash of its key. When the part's object annotation (``obj_ann_id``) has a
``refexp`` (e.g. ``"red mug"``), it replaces the object name so the instruction singles out one
instance: "Point to the handle of the red mug.".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..sample import PartDataset, Record
from .common import humanize, pick_template, read_json, require
from .masks import CocoMask

DEFAULT_TEMPLATES = ("Point to the {part} of the {object}.",)


def _object_phrase(refexp: str) -> str:
    phrase = " ".join(str(refexp).split())
    return phrase[4:] if phrase.lower().startswith("the ") else phrase


def _split_of(json_path: Path) -> str:
    stem = json_path.stem
    return stem.removeprefix("paco_") if stem.startswith("paco_") else stem


def load_paco(json_path: str | Path, images: str | Path | None = None, *,
              templates: Sequence[str] = DEFAULT_TEMPLATES, name: str | None = None) -> PartDataset:
    """Open a PACO/LVIS-style part dataset.

    json_path: the annotation JSON (``images``, ``categories``, ``annotations``).
    images: image root; ``file_name`` is looked up under it, then under ``<root>/images``
        (default root: the JSON's folder).
    templates: instruction templates with ``{part}`` and ``{object}``.
    """
    json_path = Path(json_path)
    data = read_json(json_path, what="PACO annotation file")
    require(isinstance(data, dict) and all(k in data for k in ("images", "categories", "annotations")),
            f"{json_path} lacks images/categories/annotations; expected a PACO (LVIS-style) JSON")
    root = Path(images) if images is not None else json_path.parent
    category_names = {c["id"]: str(c["name"]) for c in data["categories"]}
    image_entries = {im["id"]: im for im in data["images"]}
    annotations = data["annotations"]
    objects = {a["id"]: a for a in annotations if ":" not in category_names.get(a.get("category_id"), "")}
    split = _split_of(json_path)

    records = []
    for ann in annotations:
        category = category_names.get(ann.get("category_id"))
        origin = f"annotation {ann.get('id')} of {json_path.name}"
        require(category is not None,
                f"{origin} has unknown category_id {ann.get('category_id')}; fix the JSON")
        if ":" not in category or ann.get("area", 1) == 0:
            continue
        require("segmentation" in ann, f"{origin} has no segmentation; add polygons or RLE")
        image = image_entries.get(ann.get("image_id"))
        require(image is not None, f"{origin} refers to missing image_id {ann.get('image_id')}; fix the JSON")
        file_name = str(image.get("file_name") or Path(str(image.get("coco_url", ""))).name)
        object_name, part_name = (humanize(s) for s in category.split(":", 1))
        parent = objects.get(ann.get("obj_ann_id"), {})
        refexp = parent.get("refexp")
        key = f"{Path(file_name).stem}/{ann['id']}"
        template = pick_template(key, templates)
        phrase = _object_phrase(refexp) if refexp else object_name
        meta = {"kind": "direct", "split": split, "annotation_id": ann["id"], "image_id": image["id"]}
        if refexp:
            meta["refexp"] = refexp
        records.append(
            Record(
                key=key,
                image_paths=(root / file_name, root / "images" / file_name),
                instruction=template.format(part=part_name, object=phrase),
                mask=CocoMask(segmentations=(ann["segmentation"],), height=int(image["height"]),
                              width=int(image["width"]), name=origin),
                object=object_name,
                part=part_name,
                category=category,
                origin=origin,
                meta=meta,
            )
        )
    return PartDataset(records, name=name or f"paco:{json_path.stem}", source="paco")
