"""SynthParts: procedural part-grounding scenes with exact part masks and instructions.

``generate_split`` writes a split (PACO + InstructPart + scene-graph JSON); ``render_scene`` and
``describe`` make one scene in memory.
"""

from .affordances import AFFORDANCES, Affordance
from .categories import CATEGORIES, Category
from .config import SynthConfig
from .palette import COLOR_NAMES, PALETTE
from .scene import Scene, describe, render_scene
from .templates import TEMPLATES, build_instructions, template_set
from .writer import SplitSummary, category_table, generate_split, make_scene, record_key

__all__ = [
    "AFFORDANCES", "Affordance", "CATEGORIES", "COLOR_NAMES", "Category", "PALETTE", "Scene", "SplitSummary",
    "SynthConfig", "TEMPLATES", "build_instructions", "category_table", "describe", "generate_split",
    "make_scene", "record_key", "render_scene", "template_set"
]
