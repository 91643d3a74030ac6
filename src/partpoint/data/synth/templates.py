"""Instruction templates (train and test sets are disjoint) and the six InstructPart instructions.

Fields: ``{obj}`` the referring expression ("the red mug"), ``{part}`` the part name, ``{aff}`` the
affordance clause ("that can be grasped"), ``{task}``/``{fn}`` a phrasing from the affordance
table, ``{pw}`` "part"/"parts" and ``{is}`` "is"/"are" to agree with plural part names.
"""

from __future__ import annotations

import numpy as np

from .affordances import AFFORDANCES

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "direct": {
        "train": (
            "Where {is} the {part} of {obj} in this image?",
            "Point to the {part} of {obj}.",
            "Show me the {part} of {obj}.",
            "Find the {part} of {obj}.",
            "Locate the {part} of {obj} in the picture.",
        ),
        "test": ("Can you indicate the {part} of {obj}?",
                 "Which spot in the image shows the {part} of {obj}?", "Mark the {part} of {obj}, please.",
                 "Tap on the {part} of {obj}."),
    },
    "direct_aff": {
        "train": ("Where {is} the {part} of {obj} {aff} in this image?",
                  "Point to the {part} of {obj} {aff}.", "Find the {part} of {obj} {aff}."),
        "test": ("Can you indicate the {part} of {obj} {aff}?", "Mark the {part} of {obj} {aff}, please."),
    },
    "name": {"train": ("{part} of {obj}",), "test": ("the {part} belonging to {obj}",)},
    "name_aff": {"train": ("{part} of {obj} {aff}",), "test": ("the {part} belonging to {obj} {aff}",)},
    "reason_task": {
        "train": (
            "If I want to {task}, which {pw} should I use?",
            "Which {pw} in the picture should I interact with to {task}?",
            "What {pw} of the image do I need in order to {task}?",
            "I want to {task}. Which {pw} should I look at?",
        ),
        "test": ("To {task}, which {pw} of the image would I need?",
                 "Determine the {pw} in the picture necessary to {task}.",
                 "Help me {task}: which {pw} {is} relevant?"),
    },
    "reason_fn": {
        "train": ("Which {pw} of {obj} {fn}?", "Show the {pw} of {obj} that {fn}.",
                  "Point to the {pw} of {obj} that {fn}."),
        "test": ("Where {is} the {pw} of {obj} that {fn}?", "Point at whatever {pw} of {obj} {fn}.",
                 "In this image, find the {pw} of {obj} that {fn}."),
    },
}
SLOTS = ("reason", "reason", "direct", "direct_aff", "name", "name_aff")


def template_set(split: str) -> str:
    """Which template set a split uses: "test" for the test split, "train" for every other split."""
    return "test" if split == "test" else "train"


def build_instructions(*, category: str, part: str, refexp: str, split: str,
                       rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """The six InstructPart instructions for ``part`` of the object ``refexp`` and their template ids.

    Order: [reason 1, reason 2, direct sentence, direct + affordance sentence, name phrase,
    name + affordance phrase]; the two reasoning instructions use different templates.
    """
    aff = AFFORDANCES[(category, part)]
    which = template_set(split)
    plural = part.endswith("s")
    fields = {"obj": refexp, "part": part, "aff": aff.passive, "pw": "parts" if plural else "part"}
    fields["is"] = "are" if plural else "is"
    reason_pool = [("reason_task", i) for i in range(len(TEMPLATES["reason_task"][which]))]
    reason_pool += [("reason_fn", i) for i in range(len(TEMPLATES["reason_fn"][which]))]
    picks = [reason_pool[int(j)] for j in rng.choice(len(reason_pool), size=2, replace=False)]
    for kind in SLOTS[2:]:
        picks.append((kind, int(rng.integers(len(TEMPLATES[kind][which])))))
    texts, ids = [], []
    for kind, i in picks:
        template = TEMPLATES[kind][which][i]
        values = dict(fields)
        if kind == "reason_task":
            values["task"] = aff.tasks[int(rng.integers(len(aff.tasks)))].format(obj=refexp)
        elif kind == "reason_fn":
            values["fn"] = aff.functions[int(rng.integers(len(aff.functions)))]
        text = template.format(**values)
        texts.append(text[0].upper() + text[1:] if kind not in ("name", "name_aff") else text)
        ids.append(f"{kind}.{which}.{i}")
    return texts, ids
