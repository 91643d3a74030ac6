"""Dataset loaders: one Sample type for InstructPart, SynthParts, PACO, Car-Parts and PointArena."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import partpoint.data.sample as sample_module
from partpoint.data import (
    PartDataset,
    Sample,
    load_carparts,
    load_coco,
    load_instructpart,
    load_pointarena,
    open_dataset,
)
from partpoint.data.loaders.common import DIRECT_TEMPLATES, LONE_TEMPLATES
from partpoint.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "pointarena"


# ---------------------------------------------------------------- helpers


def _instructions(obj: str, part: str) -> list[str]:
    return [
        f"How would you use the {obj}?",
        f"Which bit of the {obj} do you use?",
        f"Where is the {part} of the {obj} in this image?",
        f"Where is the {part} of the {obj} that can be held?",
        f"{part} of the {obj}",
        f"{part} of the {obj} that can be held",
    ]


def _write_instructpart(root: Path, *, json_name="data_test.json", n=3, size=(24, 16),
                        extra=None) -> list[dict]:
    """A tiny InstructPart-layout dataset: grey images, a rectangle mask per record."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    entries = []
    for i in range(n):
        key = f"img{i}-mug-handle"
        Image.new("RGB", size, (90, 90, 90)).save(root / "images" / f"{key}.jpg")
        mask = np.zeros(size[::-1], dtype=np.uint8)
        mask[2 : 4 + i, 3 : 8 + i] = 1
        Image.fromarray(mask).save(root / "masks" / f"{key}.png")
        entry = {"image_path": f"{key}.jpg", "part_list": [
            {"object": "mug", "part": "handle", "affordance": "hold", "action": "drink",
             "instruction": _instructions("mug", "handle")}]}
        entry.update(extra or {})
        entries.append(entry)
    (root / json_name).write_text(json.dumps(entries))
    return entries


@pytest.fixture
def no_pixels(monkeypatch):
    """Fail loudly if anything decodes an image or mask while this is active."""

    def refuse(*args, **kwargs):
        raise AssertionError("pixels were read during construction")

    monkeypatch.setattr(sample_module, "load_image", refuse)
    monkeypatch.setattr(Image, "open", refuse)
    yield
    monkeypatch.undo()


def _check_sample(s: Sample) -> None:
    assert isinstance(s, Sample)
    assert isinstance(s.image, Image.Image) and s.image.mode == "RGB"
    assert s.mask.dtype == bool and s.mask.shape == (s.image.height, s.image.width)
    assert s.mask.any()
    assert isinstance(s.instruction, str) and s.instruction.strip()
    for k in ("source", "key", "image_path"):
        assert k in s.meta
    assert os.path.isfile(s.meta["image_path"])


def _assert_unique_keys(ds: PartDataset) -> None:
    keys = [ds.key(i) for i in range(len(ds))]
    assert len(set(keys)) == len(keys) == len(ds)


# ---------------------------------------------------------------- InstructPart (real)


def test_instructpart_dev_lengths_and_selection(shared_data):
    root = Path(shared_data) / "instructpart-dev"
    records = json.loads((root / "data_test.json").read_text())
    assert len(records) == 149
    one = load_instructpart(root, instructions=(2,))
    assert len(one) == 149
    default = load_instructpart(root)
    assert len(default) == 298
    assert {r.meta["kind"] for r in default.records} == {"reason"}
    assert {r.meta["instruction_index"] for r in default.records} == {0, 1}
    _assert_unique_keys(default)
    direct = open_dataset(f"instructpart:{root}#direct")
    assert len(direct) == 4 * 149 and {r.meta["kind"] for r in direct.records} == {"direct"}
    # The chosen instruction is the record's text at that index.
    for i in (0, 77, 148):
        stem = Path(records[i]["image_path"]).stem
        rec = next(r for r in one.records if r.key == f"{stem}#2")
        assert rec.instruction == records[i]["part_list"][0]["instruction"][2].strip()
        assert rec.category == f"{records[i]['part_list'][0]['object']}:{records[i]['part_list'][0]['part']}"


def test_instructpart_dev_samples(shared_data):
    ds = load_instructpart(Path(shared_data) / "instructpart-dev", instructions=(0,))
    for i in range(0, len(ds), 10):
        s = ds[i]
        _check_sample(s)
        assert s.meta["source"] == "instructpart" and s.meta["split"] == "test"
        assert s.meta["key"] == ds.key(i) and s.meta["instruction_index"] == 0
        assert s.category == f"{s.object}:{s.part}"


def test_instructpart_construction_reads_no_pixels(shared_data, no_pixels):
    ds = load_instructpart(Path(shared_data) / "instructpart-dev", instructions="all")
    assert len(ds) == 6 * 149 and ds.key(5) and len(ds.categories) > 10


# ---------------------------------------------------------------- SynthParts folders via open_dataset


def test_synth_folder_split_selection_and_defaults(tmp_path):
    _write_instructpart(tmp_path, json_name="instructpart_train.json", n=3, extra={"scene": "s1"})
    _write_instructpart(tmp_path, json_name="instructpart_test.json", n=2, extra={"scene": "s2"})
    with pytest.raises(DataError, match="several splits"):
        open_dataset(tmp_path)
    test = open_dataset(f"{tmp_path}@test")
    assert len(test) == 2 * 3  # default instructions 0, 1, 2
    assert test.records[0].meta["split"] == "test" and test.records[0].meta["scene"] == "s2"
    assert [r.meta["kind"] for r in test.records[:3]] == ["reason", "reason", "direct"]
    assert test[0].meta["source"] == "synthparts"
    assert len(open_dataset(tmp_path, split="train", instructions=(4,))) == 3
    assert len(open_dataset(f"{tmp_path}@train#0,1")) == 6
    assert len(open_dataset(f"synth:{tmp_path}@train#5", instructions=(0, 1, 2))) == 3  # spec wins


def test_synth_single_split_is_inferred(tmp_path):
    _write_instructpart(tmp_path, json_name="instructpart_val.json", n=2)
    ds = open_dataset(tmp_path)
    assert len(ds) == 6 and ds.records[0].meta["split"] == "val"
    _check_sample(ds[-1])


def test_bad_instruction_selectors(tmp_path):
    _write_instructpart(tmp_path, n=1)
    for bad in ((6,), (), (0, 0), "left"):
        with pytest.raises(DataError):
            load_instructpart(tmp_path, instructions=bad)
    with pytest.raises(DataError, match="outside 0-5"):
        open_dataset(f"instructpart:{tmp_path}#9")


# ---------------------------------------------------------------- errors


def test_missing_json_is_detected_at_construction(tmp_path):
    for opener in (load_instructpart, load_carparts, load_pointarena, load_coco):
        with pytest.raises(DataError, match="not found"):
            opener(tmp_path / "nope.json")
    with pytest.raises(DataError, match="no data_test.json"):
        load_instructpart(tmp_path)
    with pytest.raises(DataError, match="not found"):
        open_dataset(f"carparts:{tmp_path / 'missing'}")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_pointarena(tmp_path / "broken.json")


def test_unknown_format_lists_formats(tmp_path):
    with pytest.raises(DataError,
                       match="unknown dataset format 'voc'.*instructpart.*coco.*carparts.*pointarena"):
        open_dataset("voc:/some/where")
    with pytest.raises(DataError, match="cannot tell the dataset format"):
        open_dataset(tmp_path)


def test_access_errors_missing_image_mask_size_empty(tmp_path):
    _write_instructpart(tmp_path, n=4)
    (tmp_path / "images" / "img0-mug-handle.jpg").unlink()
    (tmp_path / "masks" / "img1-mug-handle.png").unlink()
    Image.fromarray(np.ones((5, 5), np.uint8)).save(tmp_path / "masks" / "img2-mug-handle.png")
    Image.fromarray(np.zeros((16, 24), np.uint8)).save(tmp_path / "masks" / "img3-mug-handle.png")
    ds = load_instructpart(tmp_path, instructions=(2,))  # construction still succeeds: access-time checks
    assert len(ds) == 4
    with pytest.raises(DataError, match=r"image file not found: .*img0-mug-handle\.jpg"):
        ds[0]
    with pytest.raises(DataError, match=r"mask file not found: .*img1-mug-handle\.png"):
        ds[1]
    with pytest.raises(DataError, match=r"is 5x5 but image .* is 24x16"):
        ds[2]
    with pytest.raises(DataError, match=r"img3-mug-handle\.png is empty"):
        ds[3]
    for i in range(4):  # every message is one line and names the entry
        with pytest.raises(DataError) as info:
            ds[i]
        assert "\n" not in str(info.value) and "data_test.json entry" in str(info.value)


# ---------------------------------------------------------------- dataset behaviour


def test_dataset_sequence_behaviour(tmp_path):
    _write_instructpart(tmp_path, n=3)
    ds = load_instructpart(tmp_path, instructions=(0, 2))
    assert len(ds) == 6 and ds.categories == ["mug:handle"]
    assert ds.key(-1) == ds.key(5) == "img2-mug-handle#2"
    sub = ds.subset([4, 0])
    assert isinstance(sub, PartDataset) and [sub.key(0), sub.key(1)] == [ds.key(4), ds.key(0)]
    sliced = ds[1::2]
    assert len(sliced) == 3 and sliced.key(0) == ds.key(1)
    assert [s.meta["key"] for s in ds] == [ds.key(i) for i in range(6)]
    first = ds[0]
    expected = np.zeros((16, 24), bool)
    expected[2:4, 3:8] = True
    assert np.array_equal(first.mask, expected)
    with pytest.raises(IndexError):
        ds[6]
    with pytest.raises(IndexError):
        ds.key(-7)


# ---------------------------------------------------------------- PACO


def _rle_str(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _rle_list(mask: np.ndarray) -> dict:
    flat = mask.flatten(order="F").astype(np.uint8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": list(mask.shape), "counts": counts}


def _write_paco(root: Path, *, images_dir="images") -> dict[str, np.ndarray]:
    h, w = 20, 30
    (root / images_dir).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), (10, 120, 10)).save(root / images_dir / "scene0.jpg")
    handle = np.zeros((h, w), bool)
    handle[4:9, 5:12] = True
    blade = np.zeros((h, w), bool)
    blade[10:15, 15:28] = True
    lid = np.zeros((h, w), bool)
    lid[2:6, 20:26] = True  # polygon [20,2]-[26,6] rasterises to rows 2-5, cols 20-25
    data = {
        "images": [{"id": 7, "file_name": "scene0.jpg", "width": w, "height": h}],
        "categories": [{"id": 1, "name": "mug"}, {"id": 2, "name": "mug:handle"},
                       {"id": 3, "name": "kitchen_knife"}, {"id": 4, "name": "kitchen_knife:blade"},
                       {"id": 5, "name": "pot"}, {"id": 6, "name": "pot:lid"}],
        "annotations": [
            {"id": 100, "image_id": 7, "category_id": 1, "segmentation": _rle_str(handle), "area": 35,
             "refexp": "the red mug"},
            {"id": 101, "image_id": 7, "category_id": 2, "segmentation": _rle_str(handle), "area": 35,
             "obj_ann_id": 100},
            {"id": 102, "image_id": 7, "category_id": 3, "segmentation": _rle_str(blade), "area": 65},
            {"id": 103, "image_id": 7, "category_id": 4, "segmentation": _rle_list(blade), "area": 65,
             "obj_ann_id": 102},
            {"id": 104, "image_id": 7, "category_id": 6, "segmentation": [[20, 2, 26, 2, 26, 6, 20, 6]],
             "area": 24, "obj_ann_id": 999},
            {"id": 105, "image_id": 7, "category_id": 6, "segmentation": [[1, 1, 2, 1, 2, 2]], "area": 0},
        ],
    }
    (root / "paco_test.json").write_text(json.dumps(data))
    return {"101": handle, "103": blade, "104": lid}


def test_paco_rle_and_polygons(tmp_path, no_pixels):
    _write_paco(tmp_path)
    ds = open_dataset(f"paco:{tmp_path / 'paco_test.json'}")  # construction reads no pixels
    assert len(ds) == 3  # objects and the zero-area part are skipped
    assert ds.categories == ["kitchen_knife:blade", "mug:handle", "pot:lid"]
    _assert_unique_keys(ds)


def test_paco_samples(tmp_path):
    expected = _write_paco(tmp_path)
    ds = load_coco(tmp_path / "paco_test.json")
    by_id = {str(ds.records[i].meta["annotation_id"]): ds[i] for i in range(len(ds))}
    for ann_id, mask in expected.items():
        s = by_id[ann_id]
        _check_sample(s)
        assert np.array_equal(s.mask, mask), ann_id
        assert s.meta["source"] == "paco" and s.meta["kind"] == "direct" and s.meta["split"] == "test"
    # a test split: held-out templates; the refexp (leading "the" dropped) names the object
    assert "handle" in by_id["101"].instruction and "red mug" in by_id["101"].instruction
    assert by_id["101"].instruction.split()[0] in ("Can", "Indicate")
    assert "blade" in by_id["103"].instruction and "kitchen knife" in by_id["103"].instruction
    assert (by_id["103"].object, by_id["103"].part) == ("kitchen knife", "blade")
    assert " pot" in by_id["104"].instruction  # dangling obj_ann_id: the category's object name
    # Explicit image root, and a second template set chosen deterministically by key.
    templates = ("Point to the {part} of the {object}.", "Where is the {object}'s {part}?")
    a = open_dataset(f"paco:{tmp_path / 'paco_test.json'}:{tmp_path / 'images'}", templates=templates)
    b = load_coco(tmp_path / "paco_test.json", images=tmp_path / "images", templates=templates)
    assert [r.instruction for r in a.records] == [r.instruction for r in b.records]
    assert a[0].mask.any()


def _write_coco(root: Path, split: str) -> Path:
    """A Roboflow-style split: images beside ``_annotations.coco.json``, plain category names."""
    folder = root / split
    folder.mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (40, 30), (90, 90, 90)).save(folder / name)
    square = [[2, 2, 12, 2, 12, 10, 2, 10]]
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
                   {"id": 2, "file_name": "b.jpg", "width": 40, "height": 30}],
        "categories": [{"id": 0, "name": "_background_"}, {"id": 1, "name": "handle", "supercategory": "mug"},
                       {"id": 2, "name": "lid", "supercategory": ""}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": square, "bbox": [2, 2, 10, 8]},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[20, 20, 30, 20, 30, 28]],
             "bbox": [20, 20, 10, 8]},  # a second mug's handle: one target, masks unioned
            {"id": 3, "image_id": 2, "category_id": 2, "segmentation": _rle_str(np.pad(np.ones((5, 5), bool),
                                                                                   ((0, 25), (0, 35))))},
            {"id": 4, "image_id": 2, "category_id": 7, "segmentation": square},
            {"id": 5, "image_id": 2, "category_id": 1, "segmentation": [[]]},
            {"id": 6, "image_id": 2, "category_id": 1, "segmentation": square, "bbox": [50, 40, 5, 5]},
            {"id": 7, "image_id": 9, "category_id": 1, "segmentation": square},
            {"id": 8, "image_id": 2, "category_id": 0, "segmentation": square},
        ],
    }
    (folder / "_annotations.coco.json").write_text(json.dumps(data))
    return folder / "_annotations.coco.json"


def test_coco_plain_categories_merge_and_skip_bad_annotations(tmp_path):
    from partpoint.errors import DataWarning

    path = _write_coco(tmp_path, "train")
    with pytest.warns(DataWarning) as caught:
        ds = open_dataset(f"coco:{path}")
    reported = sorted(str(w.message) for w in caught)
    assert [m.split("annotation ")[1].split(":")[0] for m in reported] == ["4", "5", "6", "7"]
    assert all("(skipped)" in m and "_annotations.coco.json" in m for m in reported)
    assert "unknown category_id 7" in reported[0] and "outside the image" in reported[2]
    assert len(ds) == 2
    handle, lid = sorted((ds[i] for i in range(2)), key=lambda s: s.part)
    _check_sample(handle)
    assert (handle.object, handle.part, handle.meta["source"]) == ("mug", "handle", "coco")
    assert handle.meta["merged_annotations"] == [1, 2] and handle.mask[3, 3] and handle.mask[21, 22]
    assert handle.instruction in [t.format(part="handle", object="mug") for t in DIRECT_TEMPLATES["train"]]
    assert lid.object == "" and lid.instruction in [t.format(part="lid") for t in LONE_TEMPLATES["train"]]
    assert lid.mask.sum() == 25 and lid.mask[:5, :5].all()
    named = load_coco(path, object="pot", templates=("Point to the {part} of the {object}.",))
    assert sorted(r.instruction for r in named.records) == ["Point to the handle of the mug.",
                                                            "Point to the lid of the pot."]


def test_coco_test_split_uses_held_out_templates(tmp_path):
    ds = open_dataset(_write_coco(tmp_path, "test"))  # a bare JSON path is recognised as COCO
    texts = {r.part: r.instruction for r in ds.records}
    assert texts["handle"] in [t.format(part="handle", object="mug") for t in DIRECT_TEMPLATES["test"]]


def test_coco_reads_the_carparts_export(shared_data):
    ds = open_dataset(f"coco:{Path(shared_data) / 'carparts' / 'testset' / 'annotations.json'}")
    car = load_carparts(Path(shared_data) / "carparts" / "testset")
    assert len(car.categories) == len(ds.categories) == 18
    assert "front left door" in {r.part for r in ds.records}
    assert len(ds) == len({(r.meta["image_id"], r.category) for r in car.records})  # one target per class
    _check_sample(ds[0])


# ---------------------------------------------------------------- Car-Parts


@pytest.mark.parametrize("split, n_annotations", [("testset", 811), ("trainingset", 3073)])
def test_carparts_lengths_masks_keys(shared_data, split, n_annotations):
    ds = load_carparts(Path(shared_data) / "carparts" / split)
    assert len(ds) == n_annotations
    _assert_unique_keys(ds)
    assert len(ds.categories) == 18 and all(c.startswith("car:") for c in ds.categories)
    assert "car:_background_" not in ds.categories
    if split == "testset":  # decode every mask (no images): non-empty, at the declared size
        for r in ds.records:
            m = r.mask.load()
            assert m.any() and m.shape == (r.mask.height, r.mask.width), r.key


def test_carparts_samples_and_phrasing(shared_data):
    ds = open_dataset(f"carparts:{Path(shared_data) / 'carparts' / 'testset'}")
    for i in range(0, len(ds), 101):
        s = ds[i]
        _check_sample(s)
        assert s.object == "car" and s.meta["source"] == "carparts" and s.meta["split"] == "testset"
    wheels = [r for r in ds.records if r.category == "car:wheel"]
    assert wheels and all(r.instruction == "Point to a wheel of the car." for r in wheels)
    hoods = [r for r in ds.records if r.category == "car:hood"]
    assert all(r.instruction == "Point to the hood of the car." for r in hoods)
    merged = next(r for r in wheels if "merged_annotations" in r.meta)
    siblings = [r for r in wheels if r.meta["image_id"] == merged.meta["image_id"]]
    assert len(siblings) == len(merged.meta["merged_annotations"]) > 1
    union = siblings[0].mask.load()
    assert all(np.array_equal(union, r.mask.load()) for r in siblings)


def test_carparts_side_phrasing(shared_data, no_pixels):
    ds = load_carparts(Path(shared_data) / "carparts" / "testset", explicit_sides=True, everyday_names=False)
    door = next(r for r in ds.records if r.category == "car:front_left_door")
    assert door.instruction == "Point to the front left door of the car, the car's own left."
    glass = next(r for r in ds.records if r.category == "car:front_glass")
    assert glass.instruction == "Point to the front glass of the car."


# ---------------------------------------------------------------- PointArena


def test_pointarena_fixture(no_pixels):
    ds = open_dataset(f"pointarena:{FIXTURE}")
    assert len(ds) == 4  # the entry without mask_filename is skipped
    assert ds.categories == ["affordable", "counting", "reasoning", "spatial"]
    _assert_unique_keys(ds)


def test_pointarena_samples():
    entries = json.loads((FIXTURE / "data.json").read_text())
    ds = load_pointarena(FIXTURE)
    assert open_dataset(FIXTURE).keys == ds.keys  # recognised without a prefix
    for s in ds:
        _check_sample(s)
        entry = entries[s.meta["entry"]]
        assert s.instruction == entry["user_input"] and s.category == entry["category"] == s.object
        assert s.part == "" and s.meta["count"] == entry["count"]
        assert Path(s.meta["image_path"]).parent.name == entry["category"]
    spatial = next(s for s in ds if s.category == "spatial")  # RGB mask: grey 100 is outside (> 127 rule)
    assert spatial.mask.sum() == 100
    counting = next(s for s in ds if s.category == "counting")
    assert counting.mask.sum() == 2 * 36 and counting.meta["count"] == 2


def test_shared_data_dir_honours_the_environment(monkeypatch, tmp_path):
    from partpoint.data.paths import REPO, shared_data_dir

    monkeypatch.setenv("PARTPOINT_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.delenv("PARTPOINT_DATA")
    assert shared_data_dir() == REPO.parent / "shared" / "data" and (REPO / "pyproject.toml").is_file()


# ---- label maps and YOLO boxes (Clothing Co-Parsing, DoorDetect and their exports) ----


def write_labelmap(root, names, maps):
    """A label-map split: ``root/photos/NAME.jpg``, ``root/labels/NAME.png``, names in the parent folder."""
    (root / "photos").mkdir(parents=True)
    (root / "labels").mkdir()
    (root.parent / "label_names.json").write_text(json.dumps(names))
    for stem, ids in maps.items():
        Image.new("RGB", ids.shape[::-1], (90, 90, 90)).save(root / "photos" / f"{stem}.jpg")
        Image.fromarray(ids.astype(np.uint8)).save(root / "labels" / f"{stem}.png")
    return root


def test_label_maps_give_one_target_per_class_present(tmp_path):
    from partpoint.data import open_dataset
    from partpoint.errors import DataWarning

    ids = np.zeros((40, 30), np.uint8)
    ids[0:10, :] = 3  # hair, 300 px
    ids[30:, 10:20] = 2  # belt, 100 px
    ids[20, 0] = 4  # skin: never a target
    ids[25, 0] = 1  # bag, 1 px: under min_pixels
    odd = np.zeros((40, 30), np.uint8)
    odd[:5, :5] = 9  # an id the names do not know
    names = ["null", "bag", "belt", "hair", "skin"]
    root = write_labelmap(tmp_path / "ccp" / "test", names, {"a": ids, "b": odd})
    with pytest.warns(DataWarning, match=r"b\.png: class id 9 is not in label_names\.json \(skipped\)"):
        dataset = open_dataset(f"labelmap:{root}")
    assert sorted(dataset.categories) == ["person:belt", "person:hair"]
    direct = [r for r in dataset.records if r.meta["kind"] == "direct"]
    assert {r.part for r in direct} == {"belt", "hair"}
    assert all("person" in r.instruction and r.part in r.instruction for r in direct)
    held_out = {"Can you find the belt of the person?", "Indicate the person's belt.",
                "Can you find the hair of the person?", "Indicate the person's hair."}
    assert {r.instruction for r in direct} <= held_out  # the test split's templates
    reason = [r for r in dataset.records if r.meta["kind"] == "reason"]  # the held-out split has tasks too
    assert reason and all(r.part not in r.instruction for r in reason)
    sample = next(dataset[i] for i in range(len(dataset)) if dataset.records[i].part == "belt")
    assert sample.mask.sum() == 100 and sample.mask[35, 15] and sample.image_id == dataset.image_id(0)
    assert len(open_dataset(f"labelmap:{root}#direct")) == len(direct)


def write_yolo(root, names, images):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root.parent / "obj.names").write_text("\n".join(names) + "\n")
    for stem, (size, lines) in images.items():
        Image.new("RGB", size, (120, 110, 100)).save(root / "images" / f"{stem}.jpg")
        (root / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_yolo_boxes_name_their_object_and_bad_lines_are_skipped(tmp_path):
    from partpoint.data import open_dataset
    from partpoint.errors import DataWarning

    names = ["door", "handle", "cabinet door", "refrigerator door"]
    lines = ["0 0.5 0.5 0.8 0.9",  # a door over most of the image
             "3 0.25 0.5 0.3 0.6",  # a fridge door inside it
             "1 0.3 0.5 0.05 0.1",  # a handle in both: the smaller box (the fridge door) is its object
             "1 0.75 0.5 0.05 0.1",  # a handle in the door only
             "1 0.97 0.05 0.02 0.02",  # a handle in no object box
             "1 0.5 0.5 0.1",  # line 6: four numbers
             "7 0.5 0.5 0.1 0.1",  # line 7: unknown class
             "1 1.2 0.5 0.1 0.1"]  # line 8: outside the image
    root = write_yolo(tmp_path / "doors" / "train", names, {"kitchen": ((200, 100), lines)})
    with pytest.warns(DataWarning) as caught:
        dataset = open_dataset(f"yolo:{root}:handle#direct")
    reported = sorted(str(w.message) for w in caught)
    assert [m.split("kitchen.txt:")[1][0] for m in reported] == ["6", "7", "8"]
    assert all("(skipped)" in m for m in reported)
    by_object = {r.object: r for r in dataset.records}
    assert set(by_object) == {"refrigerator door", "door", ""} and len(dataset) == 3
    fridge = by_object["refrigerator door"].instruction
    assert "handle" in fridge and "refrigerator door" in fridge
    assert by_object[""].instruction in ("Point to the handle.", "Where is the handle?")
    mask = dataset[[r.object for r in dataset.records].index("door")].mask  # the box as the target region
    assert mask.shape == (100, 200) and mask.sum() == 10 * 10 and mask[50, 150]
    ellipse = open_dataset(f"yolo:{root}:handle#direct", box_target="ellipse")
    inner = ellipse[[r.object for r in ellipse.records].index("door")].mask
    assert 0.6 < inner.sum() / mask.sum() < 0.9 and inner[50, 150] and not inner[45, 145]
    everything = open_dataset(f"yolo:{root}")  # no parts named: every class, each asked for alone
    assert {r.part for r in everything.records} == {"door", "handle", "refrigerator door"}
