"""SynthParts generator: determinism, exact masks, every part drawable, output formats, CLI."""

from __future__ import annotations

import filecmp
import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from partpoint.commands import main
from partpoint.data.synth import CATEGORIES, PALETTE, SynthConfig, describe, generate_split, render_scene
from partpoint.data.synth.refexp import Referent, refer
from partpoint.errors import DataError


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synth_train"))
    generate_split(out, split="train", n=12, seed=3, workers=1, progress=False)
    return out


def _files(root: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_same_bytes_for_any_worker_count(train_dir, tmp_path):
    other = str(tmp_path / "b")
    generate_split(other, split="train", n=12, seed=3, workers=2, progress=False)
    assert _files(train_dir) == _files(other)
    match, mismatch, errors = filecmp.cmpfiles(train_dir, other, _files(train_dir), shallow=False)
    assert not mismatch and not errors and len(match) > 12


def test_different_seed_or_split_gives_different_scenes(train_dir, tmp_path):
    generate_split(str(tmp_path / "s"), split="train", n=12, seed=4, workers=1, progress=False)
    generate_split(str(tmp_path / "v"), split="val", n=12, seed=3, workers=1, progress=False)
    a = open(os.path.join(train_dir, "images", "train_000000.jpg"), "rb").read()
    assert a != open(tmp_path / "s" / "images" / "train_000000.jpg", "rb").read()
    scenes = [json.load(open(p))["scenes"] for p in (tmp_path / "s" / "scenes_train.json",
                                                     tmp_path / "v" / "scenes_val.json")]
    assert scenes[0] != scenes[1]


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_every_category_renders_every_part(category):
    cat = CATEGORIES[category]
    assert set(cat.parts) <= set(cat.regions) and cat.main in cat.regions and 2 <= len(cat.parts) <= 5
    config = SynthConfig(objects_per_scene_p=(1.0,), categories=(category,))
    emitted = set()
    for seed in range(4):
        scene = render_scene(np.random.default_rng([11, seed]), config)
        (entry,) = describe(scene, config)
        assert entry["category"] == category and entry["refexp"] == f"the {category}"
        assert all(area > 0 for area in entry["part_areas"].values()), entry["part_areas"]
        emitted |= set(entry["emitted_parts"])
    assert emitted == set(CATEGORIES[category].parts)


def test_main_object_size_and_part_size_follow_config():
    config = SynthConfig(objects_per_scene_p=(1.0,))
    for seed in range(12):
        scene = render_scene(np.random.default_rng([5, seed]), config)
        (entry,) = describe(scene, config)
        width, height = scene.size
        assert 256 <= min(width, height) and max(width, height) <= 640
        assert max(width, height) / min(width, height) <= config.max_aspect
        extent = max(entry["bbox"][2], entry["bbox"][3]) / min(width, height)
        assert 0.3 <= extent <= 0.95, extent
        for part in entry["emitted_parts"]:
            assert entry["part_areas"][part] >= config.min_part_area_fraction * width * height


def test_part_masks_are_disjoint_inside_their_object_and_show_their_colour(train_dir):
    coco = COCO(os.path.join(train_dir, "paco_train.json"))
    palette = {name: np.asarray(rgb, dtype=np.float32) for name, rgb in PALETTE.items()}
    checked, right_colour = 0, 0
    for image_id, info in coco.imgs.items():
        pixels = np.asarray(Image.open(os.path.join(train_dir, "images", info["file_name"])),
                            dtype=np.float32)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        objects = {a["id"]: coco.annToMask(a).astype(bool) for a in anns if "obj_ann_id" not in a}
        union = {k: np.zeros_like(m) for k, m in objects.items()}
        for a in (a for a in anns if "obj_ann_id" in a):
            part = coco.annToMask(a).astype(bool)
            assert part.shape == (info["height"], info["width"]) and part.any()
            assert not (part & union[a["obj_ann_id"]]).any(), "parts of one object overlap"
            assert (part <= objects[a["obj_ann_id"]]).all(), "part pixels outside their object"
            union[a["obj_ann_id"]] |= part
            core = part.copy()  # drop 2 px at every border: outlines, blur, JPEG ringing
            for _ in range(2):
                core[1:-1, 1:-1] &= core[:-2, 1:-1] & core[2:, 1:-1] & core[1:-1, :-2] & core[1:-1, 2:]
            if core.sum() < 50:
                continue
            median = np.median(pixels[core], axis=0)
            nearest = min(palette, key=lambda n: float(np.abs(palette[n] - median).sum()))
            checked += 1
            right_colour += nearest == a["color"]
    assert checked >= 20 and right_colour / checked >= 0.9, (right_colour, checked)


def test_paco_json_links_parts_to_objects(train_dir):
    coco = COCO(os.path.join(train_dir, "paco_train.json"))
    anns = coco.dataset["annotations"]
    parts = [a for a in anns if "obj_ann_id" in a]
    assert parts and len(parts) < len(anns)
    for a in parts:
        obj = coco.anns[a["obj_ann_id"]]
        assert "obj_ann_id" not in obj and obj["image_id"] == a["image_id"]
        assert coco.cats[a["category_id"]]["name"].startswith(coco.cats[obj["category_id"]]["name"] + ":")
        assert isinstance(a["segmentation"]["counts"], str)
        assert a["area"] == int(mask_utils.area(a["segmentation"]))


def test_instructpart_records_have_six_instructions_and_their_mask(train_dir):
    records = json.load(open(os.path.join(train_dir, "instructpart_train.json")))
    paco = json.load(open(os.path.join(train_dir, "paco_train.json")))
    part_anns = {a["key"]: a for a in paco["annotations"] if "key" in a}
    assert len(records) == len(part_anns) >= 12
    for record in records:
        (part,) = record["part_list"]
        key = record["image_path"][: -len(".jpg")]
        assert key == f"{record['scene']}_{record['instance']}-{part['object']}-{part['part']}".replace(" ",
                                                                                                        "_")
        assert len(part["instruction"]) == 6 and all(s.strip() for s in part["instruction"])
        mask = np.asarray(Image.open(os.path.join(train_dir, "masks", f"{key}.png")))
        assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 1} and mask.any()
        assert np.array_equal(mask.astype(bool),
                              mask_utils.decode(part_anns[key]["segmentation"]).astype(bool))
        image = os.path.join(train_dir, "images", record["image_path"])
        scene_image = os.path.join(train_dir, "images", f"{record['scene']}.jpg")
        assert os.path.samefile(image, scene_image) or filecmp.cmp(image, scene_image, shallow=False)
        assert Image.open(image).size == mask.shape[::-1]


def test_scene_graphs_describe_every_annotated_object(train_dir):
    scenes = json.load(open(os.path.join(train_dir, "scenes_train.json")))["scenes"]
    assert [s["file"] for s in scenes] == [f"train_{i:06d}.jpg" for i in range(12)]
    counts = [len(s["objects"]) for s in scenes]
    assert 1 <= min(counts) and max(counts) <= 4
    for s in scenes:
        for o in s["objects"]:
            assert o["category"] in CATEGORIES and o["color"] in PALETTE
            assert set(o["part_colors"]) == set(CATEGORIES[o["category"]].parts)
            assert set(o["emitted_parts"]) <= set(o["part_colors"])
            assert o["refexp"] is not None or not o["emitted_parts"]


def test_refexp_prefers_category_then_colour_then_position_then_size():
    def r(color, x, area=1000.0, y=100.0):
        return Referent(category="mug", color=color, center=(x, y), area=area)

    kw = {"width": 400, "height": 400, "position_margin": 0.08, "size_ratio": 1.35}
    knife = Referent(category="knife", color="red", center=(10, 10), area=10)
    assert refer([r("red", 50), knife], 0, **kw) == ("the mug", "category")
    assert refer([r("red", 50), r("blue", 60)], 1, **kw) == ("the blue mug", "color")
    assert refer([r("red", 50), r("red", 300)], 0, **kw) == ("the mug on the left", "left")
    assert refer([r("red", 50), r("red", 200), r("red", 300)], 2, **kw) == ("the rightmost mug", "right")
    assert refer([r("red", 50), r("red", 60, area=3000)], 1, **kw) == ("the bigger mug", "bigger")
    assert refer([r("red", 50), r("red", 60, area=1100)], 0, **kw) == (None, "ambiguous")


def test_cli_writes_a_split_and_rejects_bad_arguments(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert (main(["synth", "--out", out, "--split", "test", "--n", "3", "--seed", "2", "--workers", "1",
                  "--quiet"]) == 0)
    assert "3 scenes" in capsys.readouterr().out
    for name in ("paco_test.json", "instructpart_test.json", "scenes_test.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert main(["synth", "--out", out, "--n", "0", "--quiet"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no_such_field": 1}))
    assert main(["synth", "--out", out, "--n", "1", "--config", str(bad), "--quiet"]) == 2
    assert "no_such_field" in capsys.readouterr().err


def test_examples_mode_keeps_one_record_per_scene(tmp_path):
    out = str(tmp_path / "ex")
    summary = generate_split(out, split="test", n=3, seed=1, workers=1, progress=False, examples=True)
    records = json.load(open(os.path.join(out, "examples.json")))
    assert len(records) == summary.records <= 3 and len({r["scene"] for r in records}) == len(records)
    assert sorted(os.listdir(os.path.join(out, "images"))) == sorted(r["image_path"] for r in records)
    assert not os.path.exists(os.path.join(out, "paco_test.json"))


def test_config_rejects_unknown_fields_and_categories(tmp_path):
    with pytest.raises(DataError, match="unknown SynthConfig"):
        SynthConfig.from_json({"nope": 1})
    with pytest.raises(DataError, match="unknown categories"):
        generate_split(str(tmp_path), split="train", n=1, config=SynthConfig(categories=("spoon",)),
                       progress=False)
