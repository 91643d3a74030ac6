"""The alignment corpus: (image, QA pairs) items from SynthParts train scenes and Car-Parts photos.

Every QA text is checked by :func:`coordinate_leaks` as it is built: the corpus never contains
coordinates, boxes, masks or pointing vocabulary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import NamedTuple

from partpoint.data.paths import SHARED_DATA

from .text import QA, coordinate_leaks

CARPARTS_TRAIN = str(SHARED_DATA / "carparts" / "trainingset")

#: General English for the tokenizer (instruction templates the toolkit prompts with); never trained on.
INSTRUCTION_TEMPLATES = (
    "Point to the {part} of the {object}.",
    "Where is the {part} of the {object}? Answer with a point.",
    "Which part of the {object} would you use to do this? Show it.",
    "Locate the {part}. Output the coordinates (x, y) of a point on it, like (0.42, 0.17) or [120, 64].",
    "What colour is the {part} of the {object}? How many objects are there? Is there a {object}?",
    "Which object is on the left? Which object is on the right? Is the hood visible?",
)


class Item(NamedTuple):
    key: str
    load_image: Callable  # () -> PIL.Image
    qas: list[QA]
    easy: bool


def check_clean(qas: list[QA], *, where: str) -> None:
    """Raise if any question or answer leaks coordinates or pointing vocabulary."""
    from partpoint.errors import DataError

    for qa in qas:
        leaks = coordinate_leaks(f"{qa.question} {qa.answer}")
        if leaks:
            raise DataError(f"pretraining text about {where} leaks {leaks!r} in {qa.question!r}; fix the QA generator")


def carparts_items(root: str = CARPARTS_TRAIN, *, seed: int = 0) -> list[Item]:
    """One item per Car-Parts training photo (visibility, wheel count, front/back view)."""
    from PIL import Image

    from .carparts_qa import car_questions, load_car_photos

    photos, names = load_car_photos(root)
    rng = random.Random(seed)
    items = []
    for photo in photos:
        qas = car_questions(photo, names, rng=rng)
        check_clean(qas, where=photo.key)
        items.append(Item(photo.key, lambda path=photo.path: Image.open(path).convert("RGB"), qas, True))
    return items


def gather_items(recipe, *, seed: int, synth_items=None, progress: bool = True) -> list[Item]:
    """``recipe.n_scenes`` SynthParts train scenes (``synth_items(n, n_single, seed)``) + the Car-Parts training
    photos when ``recipe.use_carparts``."""
    make_synth = synth_items or synth_train_items
    items = list(make_synth(recipe.n_scenes, n_single=recipe.n_single_scenes, seed=seed, progress=progress))
    if recipe.use_carparts:
        items += carparts_items(seed=seed)
    return items

#: Question type of a SynthParts QA, from the question's wording (``scene_qa``'s templates).
_KINDS = (
    ("part_color", re.compile(r"^What (colour is|is the colour of) the \w[\w ]* of ")),
    ("object_color", re.compile(r"^What (colour is|is the colour of) ")),
    ("count", re.compile(r"^How many ")),
    ("existence", re.compile(r"^(Is there|Can you see) ")),
    ("left_right", re.compile(r"^Which is further (left|right)")),
    ("part_function", re.compile(r"^Which (part|parts) ")),
)


def qa_kind(question: str) -> str:
    """``part_color``, ``object_color``, ``count``, ``existence``, ``left_right`` or ``part_function``."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return "other"


def synth_train_items(n: int, *, n_single: int, seed: int, progress: bool = True, split: str = "train"):
    """``n`` scenes of ``split`` (the first ``n_single`` with one object: the curriculum's easy stage).

    Scene ``i`` is rendered from the same seed the writer uses (``scene_seed(seed, split, i)``), so
    ``partpoint synth --split train --seed S`` shows exactly the multi-object scenes pretrained on.
    """
    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from partpoint.data.synth import SynthConfig, describe, render_scene
    from partpoint.data.synth.writer import scene_seed

    from .scene_qa import scene_qa

    configs = {True: SynthConfig(objects_per_scene_p=(1.0,)), False: SynthConfig()}
    items = []
    for i in tqdm(range(n), desc=f"render {split} scenes", disable=not progress):
        easy = i < n_single
        config = configs[easy]
        rng = np.random.default_rng(scene_seed(seed, f"{split}-single" if easy else split, i))
        scene = render_scene(rng, config)
        graph = {"scene": f"{split}_{i:06d}", "width": scene.size[0], "height": scene.size[1],
                 "objects": describe(scene, config)}
        qas = [QA(q, a, qa_kind(q)) for q, a in scene_qa(graph, rng)]
        if not qas:
            continue
        key = f"synth/{split}/{'single' if easy else 'multi'}/{i:06d}"
        check_clean(qas, where=key)
        items.append(Item(key, lambda pixels=scene.image: Image.fromarray(pixels), qas, easy))
    return items
