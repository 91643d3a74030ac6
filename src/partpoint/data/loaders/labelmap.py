"""Semantic label maps (a PNG of class ids per photo + a names list), as Clothing Co-Parsing, ADE20K or LIP
ship them: one target per class present in a photo, the class a part of ``object`` ("the person's belt").

Layout: ``DIR/photos|images/NAME.jpg`` and ``DIR/labels/NAME.png``; the names (a JSON list, index = id, or an
``{"id": name}`` object) in ``DIR/label_names.json`` or its parent's. Classes in ``skip`` (background, skin)
and targets under ``min_pixels`` are left out; a label map with an id the names do not know is reported and
skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..sample import PartDataset, Record
from .common import humanize, phrase, read_json, require, skip
from .masks import LabelMask

#: Task phrasings (they never name the part) of the person's parts and accessories Clothing Co-Parsing labels.
PERSON_TASKS = {
    "bag": ("What would you grab to carry the {object}'s things?",),
    "belt": ("What holds up the {object}'s trousers?",),
    "hat": ("What shades the {object}'s head?",),
    "sunglasses": ("What shields the {object}'s eyes from the sun?",),
    "glasses": ("What helps the {object} see?",),
    "watch": ("Where would the {object} look to tell the time?",),
    "scarf": ("What keeps the {object}'s neck warm?",),
    "shoes": ("What does the {object} walk in?",),
    "hair": ("What would you brush on the {object}?",),
}


def load_labelmap(path: str | Path, *, object: str = "person", skip_classes=("null", "skin"),
                  min_pixels: int = 64,
                  tasks: dict | None = None, kinds=("direct", "reason"),
                  name: str | None = None) -> PartDataset:
    """Open a label-map split folder (module docstring); ``kinds``: which instructions (direct, reason)."""
    root = Path(path)
    names_path = next((p for p in (root / "label_names.json",
                                   root.parent / "label_names.json") if p.is_file()),
                      root / "label_names.json")
    raw = read_json(names_path, what="label names file")
    names = dict(enumerate(raw)) if isinstance(raw, list) else {int(k): v for k, v in raw.items()}
    photos = next((root / d for d in ("photos", "images") if (root / d).is_dir()), root / "photos")
    labels = sorted((root / "labels").glob("*.png"))
    require(bool(labels),
            f"no label maps in {root / 'labels'}; expected DIR/labels/NAME.png beside DIR/photos")
    tasks = PERSON_TASKS if tasks is None else tasks
    records = []
    for label_path in labels:
        image_path = next((p for p in photos.glob(label_path.stem + ".*")), photos / f"{label_path.stem}.jpg")
        with Image.open(label_path) as label_map:  # closed at once: a split holds hundreds of maps
            ids, counts = np.unique(np.asarray(label_map), return_counts=True)
        for class_id, count in zip(ids.tolist(), counts.tolist()):
            if class_id not in names:
                skip(str(label_path), f"class id {class_id} is not in {names_path.name}")
                continue
            if names[class_id] in skip_classes or count < min_pixels:
                continue
            part = humanize(names[class_id])
            key = f"{label_path.stem}/{names[class_id]}"
            for kind, text in phrase(key, part=part, obj=object, split=root.name,
                                     tasks=tasks.get(names[class_id], ())):
                if kind in kinds:
                    records.append(Record(key=key + ("" if kind == "direct" else "#reason"),
                                          image_paths=(image_path,),
                                          instruction=text, mask=LabelMask(label_path, class_id),
                                          object=object,
                                          part=part, category=f"{object}:{names[class_id]}",
                                          origin=str(label_path),
                                          meta={"kind": kind, "split": root.name}))
    return PartDataset(records, name=name or f"labelmap:{root.name}", source="labelmap")
