"""Several instances: "point to the handle of every mug" scored one to one and by PointArena's rule.

A dataset whose images show several instances of one ``object:part`` (SynthParts scenes with two or three
mugs) gives one :class:`InstanceGroup` per (image, category): every instance's part mask and an instruction
that asks for all of them. The pointer answers with :meth:`Pointer.point_all` (its present peaks). Scores:

- **one to one** (Molmo's PointingEval): points matched to instances by the Hungarian method on distance
  (:func:`partpoint.evaluation.metrics.match_points`); a matched point inside its instance is a true
  positive; precision = TP / points, recall = TP / instances, F1 of the two, summed over groups;
- **PointArena's rule**: a group is a hit when it gets exactly as many points as instances, all inside the
  union of the masks;
- **count accuracy**: exactly as many points as instances.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..data.sample import resolve_image
from ..io.images import load_image
from .metrics import match_points, point_hit


@dataclass
class InstanceGroup:
    """All instances of one ``object:part`` in one image, and the instruction that asks for every one."""

    key: str
    category: str
    instruction: str
    records: list  # one data.Record per instance (its mask source)

    def load(self):
        """``(image, [instance mask (H, W) bool, ...])``."""
        image = load_image(resolve_image(self.records[0]))
        return image, [record.mask.load() for record in self.records]


def instance_groups(dataset) -> list[InstanceGroup]:
    """One group per (image, category) of ``dataset``; instances are the distinct mask sources."""
    groups: dict[tuple[str, str], dict[str, object]] = defaultdict(dict)
    for record in dataset.records:
        groups[(record.image, record.category)].setdefault(repr(record.mask), record)
    return [InstanceGroup(key=f"{image}:{category}", category=category,
                          instruction=f"Point to the {first.part} of every {first.object}.",
                          records=list(members.values()))
            for (image, category), members in groups.items() for first in [next(iter(members.values()))]]


def evaluate_instances(pointer, groups: list[InstanceGroup], *, max_points: int | None = None,
                       progress: bool = True) -> dict:
    """Score :meth:`Pointer.point_all` on ``groups`` (module docstring); all groups and those with two or
    more instances, plus one record per group."""
    from tqdm.auto import tqdm

    rows = []
    for group in tqdm(groups, desc="eval instances", disable=not progress, unit="group"):
        image, masks = group.load()
        points = [(p.x, p.y) for p in pointer.point_all(image, group.instruction, max_points=max_points)]
        union = np.logical_or.reduce(masks)
        rows.append({"key": group.key, "category": group.category, "instances": len(masks),
                     "points": [list(map(float, p)) for p in points],
                     "matched": match_points(points, masks),
                     "pointarena_hit": len(points) == len(masks)
                     and all(point_hit(union, *p) for p in points)})
    summary = {"all": instance_scores(rows),
               "several": instance_scores([r for r in rows if r["instances"] > 1])}
    return {**summary, "max_points": max_points, "groups": rows}


def instance_scores(rows: list[dict]) -> dict:
    """Precision, recall, F1, count accuracy and PointArena hit rate of :func:`evaluate_instances` rows."""
    matched = sum(r["matched"] for r in rows)
    predicted, instances = sum(len(r["points"]) for r in rows), sum(r["instances"] for r in rows)
    precision = matched / predicted if predicted else 0.0
    recall = matched / instances if instances else 0.0
    return {"groups": len(rows), "instances": instances, "points": predicted, "precision": precision,
            "recall": recall, "f1": 2 * precision * recall / (precision + recall) if matched else 0.0,
            "count_accuracy": (float(np.mean([len(r["points"]) == r["instances"] for r in rows]))
                               if rows else 0.0),
            "pointarena_hit_rate": float(np.mean([r["pointarena_hit"] for r in rows])) if rows else 0.0}
