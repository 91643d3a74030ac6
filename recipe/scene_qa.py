"""Scene question answering for backbone pretraining: short answers, no coordinates anywhere.

Questions cover part colours, object colours, counts, existence, left/right relations and which
part serves a task. Everything comes from a scene graph (an entry of ``scenes_<split>.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from partpoint.data.synth.affordances import AFFORDANCES
from partpoint.data.synth.categories import CATEGORIES
from partpoint.errors import DataError

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PLURALS = {
    "mug": "mugs",
    "knife": "knives",
    "hammer": "hammers",
    "bottle": "bottles",
    "scissors": "pairs of scissors",
    "shirt": "shirts",
    "chair": "chairs",
    "pan": "pans",
    "lamp": "lamps",
    "wine glass": "wine glasses",
    "kettle": "kettles",
    "car": "cars",
}
_COLOR_Q = ("What colour is {x}?", "What is the colour of {x}?")
_COUNT_Q = ("How many {p} are there?", "How many {p} can you see?")
_EXIST_Q = ("Is there {c} in the image?", "Can you see {c}?")
_LEFT_Q = ("Which is further left, {a} or {b}?", "Which is further right, {a} or {b}?")
_PART_Q = ("Which {pw} of {x} {fn}?", "Which {pw} should I use to {task}?")


def _a(category: str) -> str:
    return "a pair of scissors" if category == "scissors" else f"a {category}"


def scene_qa(
    scene: dict, rng: np.random.Generator, *, max_pairs: int | None = None, position_margin: float = 0.08
) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs about ``scene`` (a scene-graph dict), shuffled by ``rng``.

    Answers are one or two words (a colour, a number word, yes/no, an object or part name); a
    left/right question about two objects of one category is answered with the colour.
    """
    objects = [o for o in scene.get("objects", []) if o.get("area", 0) > 0]
    width = float(scene.get("width", 1))
    pairs: list[tuple[str, str]] = []

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    for o in objects:
        ref = o.get("refexp")
        if not ref:
            continue
        if o.get("refexp_kind") != "color":
            pairs.append((pick(_COLOR_Q).format(x=ref), o["color"]))
        for part in o.get("emitted_parts", []):
            pairs.append((pick(_COLOR_Q).format(x=f"the {part} of {ref}"), o["part_colors"][part]))
            aff = AFFORDANCES[(o["category"], part)]
            template = pick(_PART_Q)
            fields = {"pw": "parts" if part.endswith("s") else "part", "x": ref}
            fields["fn"] = aff.functions[int(rng.integers(len(aff.functions)))]
            fields["task"] = aff.tasks[int(rng.integers(len(aff.tasks)))].format(obj=ref)
            pairs.append((template.format(**fields), part))
    present = sorted({o["category"] for o in objects})
    for category in present:
        count = sum(o["category"] == category for o in objects)
        pairs.append((pick(_COUNT_Q).format(p=PLURALS[category]), NUMBER_WORDS[min(count, 9)]))
        pairs.append((pick(_EXIST_Q).format(c=_a(category)), "yes"))
    absent = [c for c in CATEGORIES if c not in present]
    for j in rng.choice(len(absent), size=min(2, len(absent)), replace=False) if absent else []:
        pairs.append((pick(_EXIST_Q).format(c=_a(absent[int(j)])), "no"))
    named = [o for o in objects if o.get("refexp_kind") in ("category", "color")]
    for i, a in enumerate(named):
        for b in named[i + 1 :]:
            dx = a["center"][0] - b["center"][0]
            if abs(dx) < position_margin * width:
                continue
            first, second = (a, b) if rng.random() < 0.5 else (b, a)
            template = pick(_LEFT_Q)
            wants_left = "left" in template
            left, right = (a, b) if dx < 0 else (b, a)
            chosen = left if wants_left else right
            answer = chosen["category"] if a["category"] != b["category"] else chosen["color"]
            pairs.append((template.format(a=first["refexp"], b=second["refexp"]), answer))
    order = rng.permutation(len(pairs))
    pairs = [pairs[int(i)] for i in order]
    return pairs[:max_pairs] if max_pairs is not None else pairs


def iter_scene_qa(path: str, *, seed: int = 0, max_pairs_per_scene: int | None = None) -> Iterator[dict]:
    """Yield ``{"scene", "question", "answer"}`` for every scene of a ``scenes_<split>.json`` file.

    Scene ``i`` uses ``numpy.random.default_rng([seed, i])``, so the stream is reproducible.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(
            f"cannot read scene graphs {path!r} ({e}); pass a scenes_<split>.json from `partpoint synth`"
        ) from e
    scenes = data["scenes"] if isinstance(data, dict) and "scenes" in data else data
    if not isinstance(scenes, list):
        raise DataError(f"{path!r} holds no scene list; pass a scenes_<split>.json from `partpoint synth`")
    for i, scene in enumerate(scenes):
        rng = np.random.default_rng([seed, i])
        for question, answer in scene_qa(scene, rng, max_pairs=max_pairs_per_scene):
            yield {"scene": scene.get("scene", str(i)), "question": question, "answer": answer}
