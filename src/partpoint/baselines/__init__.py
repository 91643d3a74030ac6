"""Baselines: native attention pointing, text pointing (prompts + answer parsers), centre, random."""

from __future__ import annotations

from .attention import attention_map, attention_point
from .text import (
    MINIMAL_ANSWERS,
    ParsedPoint,
    family_of,
    minimal_answer_tokens,
    parse_generic,
    parse_molmo,
    parse_point,
    parse_points,
    parse_qwen2,
    parse_qwen2_5,
    pointing_prompt,
    text_point,
    text_points,
    to_image_point,
)
from .trivial import centre_point, random_point

__all__ = [
    "MINIMAL_ANSWERS", "ParsedPoint", "attention_map", "attention_point", "centre_point", "family_of",
    "minimal_answer_tokens", "parse_generic", "parse_molmo", "parse_point", "parse_points", "parse_qwen2",
    "parse_qwen2_5", "pointing_prompt", "random_point", "text_point", "text_points", "to_image_point"
]
