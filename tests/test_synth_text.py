"""SynthParts text: disjoint train/test templates, reasoning never names the part; the recipe's scene QA."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
from recipe.scene_qa import iter_scene_qa, scene_qa

from partpoint.data.synth import AFFORDANCES, CATEGORIES, TEMPLATES, build_instructions


def _instructions(category, part, split, seeds=60):
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        yield build_instructions(category=category, part=part, refexp=f"the red {category}", split=split,
                                 rng=rng)


def test_every_part_has_an_affordance_entry():
    assert set(AFFORDANCES) == {(c, p) for c, cat in CATEGORIES.items() for p in cat.parts}
    assert len(CATEGORIES) >= 12


def test_test_templates_are_disjoint_from_train_templates():
    for kind, sets in TEMPLATES.items():
        assert sets["train"] and sets["test"] and not set(sets["train"]) & set(sets["test"]), kind
    for category, part in AFFORDANCES:
        train = {t for texts, _ in _instructions(category, part, "train", 20) for t in texts}
        val = {t for texts, _ in _instructions(category, part, "val", 20) for t in texts}
        test = {t for texts, ids in _instructions(category, part, "test", 20) for t in texts}
        assert not train & test, (category, part, train & test)
        assert val == train  # val uses the train templates (same rng -> same texts)


def test_instruction_order_and_template_ids():
    texts, ids = build_instructions(category="mug", part="handle", refexp="the red mug", split="test",
                                    rng=np.random.default_rng(0))
    assert len(texts) == 6 and all(i.split(".")[1] == "test" for i in ids)
    assert [i.split(".")[0] for i in ids[2:]] == ["direct", "direct_aff", "name", "name_aff"]
    assert all(i.split(".")[0].startswith("reason") for i in ids[:2]) and texts[0] != texts[1]
    assert all("handle" in t and "the red mug" in t for t in texts[2:])
    assert "that can be grasped" in texts[3] and "that can be grasped" in texts[5]


def test_reason_instructions_never_name_the_part():
    for category, part in AFFORDANCES:
        words = [w.rstrip("s") for w in part.split() if w not in ("left", "right")]
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")s?\b", re.IGNORECASE)
        seen = set()
        for split in ("train", "test"):
            for texts, _ in _instructions(category, part, split):
                for text in texts[:2]:
                    assert not pattern.search(text), (category, part, text)
                    seen.add(text)
        assert len(seen) >= 10


def test_reason_phrasings_single_out_one_part_per_object():
    for category, cat in CATEGORIES.items():
        phrasings = [set(AFFORDANCES[(category, p)].tasks + AFFORDANCES[(category,
                                                                         p)].functions) for p in cat.parts]
        for a, b in itertools.combinations(phrasings, 2):
            assert not a & b, (category, a & b)


SCENE = {
    "scene": "s0",
    "width": 400,
    "height": 300,
    "objects": [
        {
            "instance": 0, "category": "mug", "color": "red",
            "part_colors": {"body": "red", "handle": "blue", "rim": "red"},
            "center": [60.0, 150.0], "area": 900, "refexp": "the red mug", "refexp_kind": "color",
            "emitted_parts": ["body", "handle"],
        },
        {
            "instance": 1, "category": "mug", "color": "green",
            "part_colors": {"body": "green", "handle": "green", "rim": "pink"},
            "center": [200.0, 150.0], "area": 900, "refexp": "the green mug", "refexp_kind": "color",
            "emitted_parts": ["rim"],
        },
        {
            "instance": 2, "category": "knife", "color": "yellow",
            "part_colors": {"blade": "gray", "handle": "yellow"},
            "center": [350.0, 100.0], "area": 500, "refexp": "the knife", "refexp_kind": "category",
            "emitted_parts": ["blade"],
        },
    ],
}  # fmt: skip


def test_scene_qa_answers_from_the_scene_graph():
    qa = dict(scene_qa(SCENE, np.random.default_rng(0)))
    count = [a for q, a in qa.items() if q.startswith("How many mugs")]
    assert count == ["two"]
    assert [a for q, a in qa.items() if "knife" in q and q.startswith(("Is there", "Can you see"))] == ["yes"]
    assert (qa.get("What colour is the handle of the red mug?",
                   qa.get("What is the colour of the handle of the red mug?")) == "blue")
    assert any(a == "no" for q, a in qa.items() if q.startswith(("Is there", "Can you see")))
    assert any(a == "blade" for q, a in qa.items() if "knife" in q and q.startswith("Which part"))
    for q, a in qa.items():
        if q.startswith(("Which is further left, the red mug or the knife",
                         "Which is further left, the knife or the red mug")):
            assert a == "mug"
        if "further right" in q and "red mug" in q and "green mug" in q:
            assert a == "green"
    assert not any(
        "colour of the green mug" in q or "colour is the green mug" in q for q in qa
    )  # answer in question


def test_scene_qa_has_no_coordinates_and_short_answers(tmp_path):
    from partpoint.data.synth import generate_split

    generate_split(str(tmp_path), split="train", n=8, seed=0, workers=1, progress=False)
    pairs = list(iter_scene_qa(str(tmp_path / "scenes_train.json"), seed=1))
    assert len(pairs) > 50 and pairs == list(iter_scene_qa(str(tmp_path / "scenes_train.json"), seed=1))
    kinds = {p["question"].split()[0] for p in pairs}
    assert {"What", "How", "Which"} <= kinds
    for p in pairs:
        assert not re.search(r"\d|\[|\]|bbox|pixel", p["question"] + " " + p["answer"]), p
        assert 1 <= len(p["answer"].split()) <= 2, p
    scenes = json.load(open(tmp_path / "scenes_train.json"))["scenes"]
    assert {p["scene"] for p in pairs} == {s["scene"] for s in scenes}
