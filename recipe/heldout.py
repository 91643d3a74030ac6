"""Held-out SynthParts scenes for the backbone report: rendered like the pretraining scenes, never trained on.

Pretraining renders split ``"train"`` (and ``"train-single"``) from ``scene_seed(seed, split, i)``;
the report renders another split name (default ``"val"``) with another seed (default 1000), so no
scene seed is shared. Scenes are rendered in memory exactly as :func:`synth_train_items` does
(no JPEG round trip) and their QA comes from the same ``scene_qa`` with the same ``qa_kind``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .corpus import qa_kind
from .text import QA

#: Split names the pretraining corpus renders (``synth_train_items``); the report refuses them.
PRETRAIN_SPLITS = ("train", "train-single")
#: The six SynthParts question types, in report order.
QA_KINDS = ("part_color", "object_color", "count", "existence", "left_right", "part_function")

_PUNCTUATION = re.compile(r"[^\w\s]")


def normalize_answer(text: str) -> str:
    """Exact-match form of an answer: lower case, punctuation dropped, whitespace collapsed."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def answers_match(prediction: str, answer: str) -> bool:
    """True when ``prediction`` equals ``answer`` after :func:`normalize_answer` on both."""
    return normalize_answer(prediction) == normalize_answer(answer)


@dataclass
class HeldoutScene:
    """One rendered held-out scene: pixels + label maps (``scene``), its graph and its QA pairs."""

    name: str
    scene: object  # partpoint.data.synth.Scene
    graph: dict
    qas: list[QA]

    def image(self):
        from PIL import Image

        return Image.fromarray(self.scene.image)


def heldout_scenes(n: int, *, seed: int = 1000, split: str = "val", progress: bool = True) -> list[HeldoutScene]:
    """Render ``n`` scenes of ``split`` (default SynthConfig: 1-4 objects) with their scene QA."""
    from tqdm import tqdm

    from partpoint.data.synth import SynthConfig, describe, render_scene
    from partpoint.data.synth.writer import scene_seed
    from partpoint.errors import DataError

    from .scene_qa import scene_qa

    if split in PRETRAIN_SPLITS:
        raise DataError(f"split {split!r} is what pretraining renders; pass a held-out split name such as 'val'")
    config = SynthConfig()
    scenes = []
    for i in tqdm(range(n), desc=f"render {split} scenes", disable=not progress):
        rng = np.random.default_rng(scene_seed(seed, split, i))
        scene = render_scene(rng, config)
        name = f"{split}_{i:06d}"
        graph = {"scene": name, "width": scene.size[0], "height": scene.size[1], "objects": describe(scene, config)}
        qas = [QA(q, a, qa_kind(q)) for q, a in scene_qa(graph, rng)]
        scenes.append(HeldoutScene(name, scene, graph, qas))
    return scenes


def part_color_target(graph: dict, question: str) -> tuple[int, str] | None:
    """``(instance, part)`` a part-colour question asks about, or None when it names no emitted part."""
    for obj in graph["objects"]:
        for part in obj.get("emitted_parts", []):
            phrase = f"the {part} of {obj['refexp']}"
            if question in (f"What colour is {phrase}?", f"What is the colour of {phrase}?"):
                return obj["instance"], part
    return None


def sample_questions(scenes: list[HeldoutScene], *, per_kind: int, seed: int) -> list[tuple[int, QA]]:
    """Up to ``per_kind`` ``(scene index, QA)`` pairs of each kind in :data:`QA_KINDS`, drawn at random.

    Drawing per kind keeps rare kinds (left/right) from being crowded out by frequent ones.
    """
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[tuple[int, QA]]] = {kind: [] for kind in QA_KINDS}
    for index, scene in enumerate(scenes):
        for qa in scene.qas:
            if qa.kind in by_kind:
                by_kind[qa.kind].append((index, qa))
    chosen = []
    for kind in QA_KINDS:
        pool = by_kind[kind]
        picks = sorted(rng.choice(len(pool), size=min(per_kind, len(pool)), replace=False)) if pool else []
        chosen += [pool[int(i)] for i in picks]
    return chosen
