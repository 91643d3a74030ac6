"""What each part is for: (object, part) -> affordance, action and task phrasings.

``tasks`` are infinitive clauses ("slice the bread with {obj}") and ``functions`` are predicates
for "the part of {obj} that ..." ("cuts the bread"); ``{obj}`` becomes the referring expression.
Every phrasing points at exactly one part of its object and never names that part, so the
reasoning instructions built from them require knowing what the part is for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Affordance:
    """InstructPart-style affordance of one part plus task phrasings that single it out."""

    affordance: str  # InstructPart's "affordance" field, e.g. "grasp"
    action: str  # InstructPart's "action" field, e.g. "hold"
    passive: str  # relative clause for the affordance name phrase, e.g. "that can be grasped"
    tasks: tuple[str, ...]
    functions: tuple[str, ...]


def _a(affordance: str, action: str, passive: str, tasks: tuple[str, ...],
       functions: tuple[str, ...]) -> Affordance:
    return Affordance(affordance=affordance, action=action, passive=passive, tasks=tasks, functions=functions)


# fmt: off
AFFORDANCES: dict[tuple[str, str], Affordance] = {
    ("mug", "body"): _a(
        "contain", "fill", "that holds the drink",
        ("wrap both hands around {obj} to warm them", "see the printed side of {obj}"),
        ("holds the coffee inside", "is the big cylinder of the cup"),
    ),
    ("mug", "handle"): _a(
        "grasp", "hold", "that can be grasped",
        ("pick up {obj} without touching the hot coffee", "carry {obj} with one finger hooked through it"),
        ("is gripped to lift it", "loops out from the side for the fingers"),
    ),
    ("mug", "rim"): _a("drink", "sip", "that touches the lips",
                       ("sip coffee from {obj}", "put my lips on {obj} to drink"),
                       ("touches your lips when you drink", "forms the opening at the top")),
    ("knife", "blade"): _a("cut", "slice", "that can cut",
                           ("slice the bread with {obj}", "cut a tomato using {obj}"),
                           ("cuts the bread", "has the sharp edge")),
    ("knife", "handle"): _a("grasp", "hold", "that can be gripped",
                            ("pick up {obj} safely", "hold {obj} without cutting myself"),
                            ("is safe to hold", "fits in the palm of the hand")),
    ("hammer", "head"): _a("strike", "hit", "that strikes the nail",
                           ("drive a nail into wood with {obj}", "knock a peg in with {obj}"),
                           ("hits the nail", "is the heavy metal end")),
    ("hammer", "handle"): _a("grasp", "swing", "that can be gripped",
                             ("swing {obj}", "grab {obj} to start working"),
                             ("is held when swinging it", "is the long shaft you grip")),
    ("bottle", "cap"): _a("twist", "open", "that can be twisted off",
                          ("open {obj}", "seal {obj} again after drinking"),
                          ("screws onto the top", "keeps the drink from spilling out")),
    ("bottle", "neck"): _a(
        "grasp", "pour", "that narrows toward the opening",
        ("grip {obj} just below the top to pour", "hold {obj} at its narrowing section"),
        ("narrows toward the opening", "connects the top to the wide lower section"),
    ),
    ("bottle", "body"): _a(
        "contain", "hold", "that holds the liquid",
        ("check how much drink is left at the bottom of {obj}",
         "wrap my hand around the widest section of {obj}"),
        ("holds most of the liquid", "is the wide lower section"),
    ),
    ("bottle", "label"): _a("read", "read", "that can be read",
                            ("read the brand of {obj}", "find out what drink is in {obj}"),
                            ("shows the brand name", "carries the printed information")),
    ("scissors", "blades"): _a("cut", "cut", "that can cut",
                               ("cut a sheet of paper with {obj}", "trim a thread using {obj}"),
                               ("slice through the paper", "have the sharp edges")),
    ("scissors", "handles"): _a(
        "grasp", "operate", "that the fingers go through",
        ("put my fingers into {obj}", "open and close {obj} with my hand"),
        ("hold the thumb and fingers", "are the loops you squeeze"),
    ),
    ("shirt", "collar"): _a("fold", "adjust", "that goes around the neck",
                            ("adjust {obj} around my neck", "fold down the neckline of {obj}"),
                            ("goes around the neck", "frames the neck opening")),
    ("shirt", "left sleeve"): _a(
        "wear", "put on", "on the left that covers an arm",
        ("put an arm into the left side of {obj}", "roll up the arm opening on the left of {obj}"),
        ("covers the arm on the left side of the picture", "sticks out to the left of the torso"),
    ),
    ("shirt", "right sleeve"): _a(
        "wear", "put on", "on the right that covers an arm",
        ("put an arm into the right side of {obj}", "roll up the arm opening on the right of {obj}"),
        ("covers the arm on the right side of the picture", "sticks out to the right of the torso"),
    ),
    ("shirt", "hem"): _a(
        "tuck", "tuck in", "that can be tucked in",
        ("tuck {obj} into my trousers", "shorten {obj} by sewing its bottom edge"),
        ("gets tucked into the trousers", "runs along the bottom edge"),
    ),
    ("chair", "seat"): _a("sit", "sit", "that can be sat on",
                          ("sit down on {obj}", "put a cushion where I would sit on {obj}"),
                          ("supports the person sitting", "is the flat surface you sit on")),
    ("chair", "backrest"): _a("lean", "lean", "that can be leaned against",
                              ("lean back on {obj}", "hang my jacket over the top of {obj}"),
                              ("supports your back", "rises up behind the sitter")),
    ("chair", "legs"): _a("support", "stand", "that support the chair",
                          ("put felt pads under {obj}", "check what touches the floor under {obj}"),
                          ("touch the floor", "hold the chair up")),
    ("pan", "body"): _a("contain", "fry", "that holds the food",
                        ("fry an egg in {obj}", "put the vegetables into {obj}"),
                        ("holds the food while cooking", "gets hot on the stove")),
    ("pan", "handle"): _a("grasp", "lift", "that can be grasped",
                          ("lift {obj} off the stove", "move {obj} without burning my hand"),
                          ("stays cool enough to hold", "is gripped to lift it")),
    ("lamp", "shade"): _a("diffuse", "dim", "that softens the light",
                          ("stop {obj} from dazzling me", "change the cover around the bulb of {obj}"),
                          ("covers the bulb", "spreads the light softly")),
    ("lamp", "stand"): _a(
        "support", "raise", "that holds the light up",
        ("grip {obj} around its middle to move it", "see what holds the light of {obj} high"),
        ("holds the light up high", "connects the top to the bottom"),
    ),
    ("lamp", "base"): _a("rest", "steady", "that rests on the table",
                         ("keep {obj} from tipping over", "put {obj} down steadily on the desk"),
                         ("rests on the table", "keeps it from falling over")),
    ("wine glass", "bowl"): _a("contain", "drink", "that holds the wine",
                               ("pour wine into {obj}", "see how much wine is in {obj}"),
                               ("holds the wine", "gets filled with wine")),
    ("wine glass", "stem"): _a(
        "grasp", "hold", "that can be held",
        ("hold {obj} without warming the wine", "pinch {obj} elegantly between my fingers"),
        ("is the thin shaft you hold", "connects the cup to the foot"),
    ),
    ("wine glass", "base"): _a(
        "rest", "set down", "that rests on the table",
        ("set {obj} down on the table", "keep {obj} upright on the table"),
        ("rests flat on the table", "keeps the glass upright"),
    ),
    ("kettle", "body"): _a("contain", "boil", "that holds the water",
                           ("see how much water fits in {obj}", "wipe the big belly of {obj}"),
                           ("holds the water", "heats the water inside")),
    ("kettle", "spout"): _a("pour", "pour", "that pours",
                            ("aim the stream of tea from {obj} into a cup",
                             "see where the water comes out of {obj}"),
                             ("pours the water out", "lets the tea flow out")),
    ("kettle", "handle"): _a("grasp", "lift", "that can be grasped",
                             ("lift {obj} without burning myself", "hold {obj} steady while pouring"),
                             ("is gripped to lift it", "stays cool for your hand")),
    ("kettle", "lid"): _a("open", "fill", "that can be lifted off",
                          ("open {obj} to fill it with water", "close the top of {obj}"),
                          ("covers the opening on top", "comes off to fill it")),
    ("car", "body"): _a("protect", "carry", "that carries the paint",
                        ("wash the painted metal of {obj}", "repaint {obj}"),
                        ("is painted in the car's colour", "forms the metal shell")),
    ("car", "wheels"): _a("roll", "drive", "that roll on the road",
                          ("change a tyre on {obj}", "check the tyre pressure of {obj}"),
                          ("roll on the road", "touch the ground")),
    ("car", "windows"): _a("see through", "look", "that can be seen through",
                           ("look inside {obj}", "clean the glass of {obj}"),
                           ("let the driver see out", "are made of glass")),
    ("car", "headlight"): _a(
        "illuminate", "light", "that lights up",
        ("light the road ahead with {obj}", "check whether the front lamp of {obj} works"),
        ("lights up the road at night", "shines forward in the dark"),
    ),
}
# fmt: on
