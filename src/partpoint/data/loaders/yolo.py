"""YOLO box files (``class cx cy w h`` per line, relative to the image) + ``obj.names``, Roboflow's most
common export, e.g. DoorDetect: one target per box of a ``parts`` class, its object the smallest box of
another class that holds the part's centre ("the handle of the refrigerator door"); a part in no object box
is asked for alone.

Layout: ``DIR/images/NAME.jpg``, ``DIR/labels/NAME.txt``, ``obj.names`` (or ``classes.txt``) in DIR or its
parent. The box is the target region (``box_target="box"``; ``"ellipse"``: the ellipse inscribed in it): a
point hits when it lies in it. A bad line (not five numbers, an unknown class, a box outside the image) is
reported with its file and line and skipped.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..sample import PartDataset, Record
from .common import humanize, phrase, require, skip
from .masks import BoxMask

#: Task phrasings of DoorDetect's handle.
HANDLE_TASKS = {"handle": ("Where would you pull to open the {object}?",
                           "What would you grab to open the {object}?")}


def read_boxes(label_path: Path, names: list[str], size: tuple[int, int]) -> list[tuple[str, tuple]]:
    """``[(class name, (x0, y0, x1, y1) pixels)]`` of one label file; bad lines are reported and skipped."""
    width, height = size
    boxes = []
    for number, line in enumerate(label_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            if len(fields) != 5:
                raise ValueError(line)
            class_id, cx, cy, w, h = int(fields[0]), *map(float, fields[1:])
        except ValueError:
            skip(f"{label_path}:{number}", "not 'class cx cy w h'")
            continue
        if not 0 <= class_id < len(names):
            skip(f"{label_path}:{number}",
                 f"class {class_id} is not in the names list ({len(names)} classes)")
            continue
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if w <= 0 or h <= 0 or x0 < -0.01 or y0 < -0.01 or x1 > 1.01 or y1 > 1.01:
            skip(f"{label_path}:{number}", "box empty or outside the image")
            continue
        boxes.append((names[class_id], (x0 * width, y0 * height, x1 * width, y1 * height)))
    return boxes


def _contains(box, point) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def load_yolo(path: str | Path, *, parts=None, box_target: str = "box", tasks: dict | None = None,
              kinds=("direct", "reason"), name: str | None = None) -> PartDataset:
    """Open a YOLO split folder (module docstring). ``parts``: the target classes (default: every class, each
    asked for alone); the other classes name the object a target lies in."""
    root = Path(path)
    candidates = [d / f for d in (root, root.parent) for f in ("obj.names", "classes.txt")]
    names_path = next((p for p in candidates if p.is_file()), None)
    require(names_path is not None,
            f"no obj.names or classes.txt in {root} or its parent; YOLO needs class names")
    names = [n.strip() for n in names_path.read_text().splitlines() if n.strip()]
    parts = tuple(names if parts is None else parts)
    tasks = HANDLE_TASKS if tasks is None else tasks
    records = []
    for label_path in sorted((root / "labels").glob("*.txt")):
        image_path = next(iter(sorted((root / "images").glob(label_path.stem + ".*"))), None)
        if image_path is None:
            skip(str(label_path), "no image of that name in images/")
            continue
        with Image.open(image_path) as image:
            size = image.size
        boxes = read_boxes(label_path, names, size)
        for index, (cls, box) in enumerate(boxes):
            if cls not in parts:
                continue
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            holders = [((b[2] - b[0]) * (b[3] - b[1]), c) for c,
                       b in boxes if c not in parts and _contains(b, centre)]
            obj = min(holders)[1] if holders else None
            key = f"{label_path.stem}/{index}"
            part = humanize(cls)
            for kind, text in phrase(key, part=part, obj=obj, split=root.name, tasks=tasks.get(cls, ())):
                if kind in kinds:
                    mask = BoxMask(box=box, size=size, shape=box_target, name=f"box {index} of {label_path}")
                    records.append(Record(key=key + ("" if kind == "direct" else "#reason"),
                                          image_paths=(image_path,),
                                          instruction=text, mask=mask, object=obj or "", part=part,
                                          category=f"{obj or 'any'}:{cls}",
                                          origin=f"{label_path} box {index}",
                                          meta={"kind": kind, "split": root.name}))
    return PartDataset(records, name=name or f"yolo:{root.name}", source="yolo")
