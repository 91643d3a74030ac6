"""SynthParts train scenes as pretraining items (rendered once; QA from the scene graph, no coordinates)."""

from __future__ import annotations

import re

from .text import QA

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

    from .corpus import Item, check_clean
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
