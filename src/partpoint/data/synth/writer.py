"""Write a SynthParts split to disk in the PACO, InstructPart and scene-graph layouts.

``DIR/images/<scene>.jpg`` (+ one hard link per record), ``DIR/masks/<key>.png``,
``DIR/paco_<split>.json``, ``DIR/instructpart_<split>.json`` and ``DIR/scenes_<split>.json``.
Each scene is seeded from (seed, split, index) and ids are assigned in index order, so the
output bytes do not depend on the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from tqdm import tqdm

from ...errors import DataError
from .affordances import AFFORDANCES
from .categories import CATEGORIES
from .config import SynthConfig
from .scene import describe, render_scene
from .templates import build_instructions


@dataclass(frozen=True, kw_only=True)
class SplitSummary:
    """What :func:`generate_split` wrote and how fast."""

    out_dir: str
    split: str
    scenes: int
    records: int
    objects: int
    seconds: float

    @property
    def scenes_per_minute(self) -> float:
        return 60.0 * self.scenes / max(self.seconds, 1e-9)


def category_table() -> list[dict]:
    """PACO-style categories: objects first (ids 1..), then every ``object:part``; stable ids."""
    table = [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(CATEGORIES)]
    for name, cat in CATEGORIES.items():
        for part in cat.parts:
            table.append({"id": len(table) + 1, "name": f"{name}:{part}", "supercategory": name})
    return table


def scene_seed(seed: int, split: str, index: int) -> list[int]:
    """The entropy that seeds scene ``index`` of ``split``."""
    return [int(seed), zlib.crc32(split.encode("utf-8")), int(index)]


def record_key(scene_name: str, instance: int, category: str, part: str) -> str:
    """InstructPart key ``<stem>-<object>-<part>`` with stem ``<scene>_<instance>``, spaces as ``_``."""
    return f"{scene_name}_{instance}-{category}-{part}".replace(" ", "_")


def _rle(mask: np.ndarray) -> tuple[dict, int, list[float]]:
    """(H, W) bool -> (COCO RLE with str counts, area, [x, y, w, h])."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    rle["counts"] = rle["counts"].decode("ascii")
    return rle, int(mask.sum()), bbox


def _link(src: str, dst: str) -> None:
    if os.path.lexists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def make_scene(out_dir: str, split: str, seed: int, index: int, config: SynthConfig, *,
               examples: bool = False) -> dict:
    """Render scene ``index``, write its image and masks, return its graph, annotations and records.

    With ``examples`` only one record per scene is kept and its image is a plain file.
    """
    rng = np.random.default_rng(scene_seed(seed, split, index))
    scene = render_scene(rng, config)
    entries = describe(scene, config)
    width, height = scene.size
    name = f"{split}_{index:06d}"
    scene_path = os.path.join(out_dir, "images", f"{name}.jpg")
    pixels = Image.fromarray(scene.image)
    if not examples:
        pixels.save(scene_path, quality=config.jpeg_quality)
    objects, records = [], []
    for entry in entries:
        k, category = entry["instance"], entry["category"]
        if entry["area"] == 0:
            continue
        rle, area, bbox = _rle(scene.object_mask(k))
        ann = {"segmentation": rle, "area": area, "bbox": bbox, "iscrowd": 0, "category": category}
        ann |= {key: entry[key] for key in ("instance", "color", "part_colors", "refexp", "refexp_kind")}
        ann["parts"] = []
        for part in entry["emitted_parts"]:
            mask = scene.part_mask(k, part)
            key = record_key(name, k, category, part)
            texts, template_ids = build_instructions(category=category, part=part, refexp=entry["refexp"],
                                                     split=split, rng=rng)
            part_rle, part_area, part_bbox = _rle(mask)
            ann["parts"].append({"segmentation": part_rle, "area": part_area, "bbox": part_bbox,
                                 "iscrowd": 0, "part": part} | {"color": entry["part_colors"][part],
                                                                "key": key})
            aff = AFFORDANCES[(category, part)]
            records.append(
                {
                    "image_path": f"{key}.jpg",
                    "scene": name,
                    "instance": k,
                    "part_list": [
                        {
                            "object": category,
                            "part": part,
                            "affordance": aff.affordance,
                            "action": aff.action,
                            "instruction": texts,
                            "templates": template_ids,
                            "refexp": entry["refexp"],
                            "color": entry["part_colors"][part],
                            "object_color": entry["color"],
                        }
                    ],
                    "_mask": mask,
                }
            )
        objects.append(ann)
    if examples and records:
        records = [records[index % len(records)]]
    for record in records:
        key = record["image_path"][: -len(".jpg")]
        Image.fromarray(record.pop("_mask").astype(np.uint8)).save(os.path.join(out_dir, "masks",
                                                                                f"{key}.png"))
        image_path = os.path.join(out_dir, "images", record["image_path"])
        if examples:
            pixels.save(image_path, quality=config.jpeg_quality)
        else:
            _link(scene_path, image_path)
    graph = {"scene": name, "file": f"{name}.jpg", "width": width, "height": height, "index": index}
    graph["objects"] = entries
    return {"scene": graph, "objects": objects, "records": records}


def _job(args: tuple) -> dict:
    out_dir, split, seed, index, config, examples = args
    return make_scene(out_dir, split, seed, index, config, examples=examples)


def generate_split(out_dir: str, *, split: str, n: int, seed: int = 0, workers: int = 2,
                   config: SynthConfig | None = None, progress: bool = True,
                   examples: bool = False) -> SplitSummary:
    """Generate ``n`` scenes of ``split`` into ``out_dir``; same bytes for the same (seed, split, n).

    ``examples``: write a demo folder instead (one record per scene, ``examples.json`` only).
    """
    if n < 1:
        raise DataError(f"--n must be at least 1 (got {n}); ask for one or more scenes")
    if not split or any(c in split for c in "/\\- ."):
        raise DataError(f"split name {split!r} must be a plain word like train, val or test")
    config = config or SynthConfig()
    unknown = [c for c in config.categories if c not in CATEGORIES]
    if unknown:
        raise DataError(f"unknown categories {unknown}; choose from {list(CATEGORIES)}")
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    start = time.perf_counter()
    jobs = [(out_dir, split, seed, i, config, examples) for i in range(n)]
    bar = tqdm(total=n, desc=f"synth {split}", unit="scene", disable=not progress)
    results = []
    if workers <= 1:
        for job in jobs:
            results.append(_job(job))
            bar.update()
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result in pool.imap(_job, jobs, chunksize=max(1, min(16, n // (4 * workers)))):
                results.append(result)
                bar.update()
    bar.close()
    records = [r for result in results for r in result["records"]]
    if examples:
        _dump(os.path.join(out_dir, "examples.json"), records, indent=1)
    else:
        _dump(os.path.join(out_dir, f"instructpart_{split}.json"), records, indent=1)
        _dump(os.path.join(out_dir, f"paco_{split}.json"), _paco(results, split, seed, config))
        scenes = {"split": split, "seed": seed, "config": config.to_json(),
                  "scenes": [r["scene"] for r in results]}
        _dump(os.path.join(out_dir, f"scenes_{split}.json"), scenes)
    return SplitSummary(out_dir=out_dir, split=split, scenes=n, records=len(records),
                        objects=sum(len(r["objects"]) for r in results), seconds=time.perf_counter() - start)


def _paco(results: list[dict], split: str, seed: int, config: SynthConfig) -> dict:
    """PACO/LVIS-style dict: images, categories, object and part annotations (parts link obj_ann_id)."""
    categories = category_table()
    category_ids = {c["name"]: c["id"] for c in categories}
    images, annotations = [], []
    for image_id, result in enumerate(results, start=1):
        graph = result["scene"]
        images.append({"id": image_id, "file_name": graph["file"], "width": graph["width"],
                       "height": graph["height"]})
        for obj in result["objects"]:
            obj_id = len(annotations) + 1
            parts = obj.pop("parts")
            category = obj.pop("category")
            annotations.append({"id": obj_id, "image_id": image_id,
                                "category_id": category_ids[category]} | obj)
            for part in parts:
                part_name = part.pop("part")
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": category_ids[f"{category}:{part_name}"]}
                                   | part | {"obj_ann_id": obj_id})
    info = {"description": "SynthParts (procedural part grounding)", "split": split, "seed": seed}
    return {"info": info | {"config": config.to_json()}, "images": images, "categories": categories,
            "annotations": annotations}


def _dump(path: str, data, *, indent: int | None = None) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=indent)
        f.write("\n")
