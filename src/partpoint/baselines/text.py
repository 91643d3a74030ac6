"""Text pointing: ask the backbone for a point in words, parse its answer, map it to image pixels.

Answer formats (what each family was trained to emit):

- Molmo: ``<point x="61.5" y="40.2" alt="...">...</point>`` or ``<points x1=".." y1=".." x2=..>``,
  percent (0-100) of the ORIGINAL image.
- Qwen2.5-VL: JSON ``[{"point_2d": [x, y], "label": ".."}]`` (often in a ```json fence, sometimes
  truncated), absolute pixels of the RESIZED model input; a ``bbox_2d`` answer gives its centre.
- Qwen2-VL: ``(x, y)`` or ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` on a 0-1000 grid of the input.
- Others (LLaVA, Idefics3, PaliGemma, ...): ``(x, y)`` / ``[x, y]``, normalised 0-1 of the input
  when both are <= 1, else pixels of the input.

An answer that cannot be parsed gives ``None`` (the evaluation counts it as a miss).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..pointer.result import PointResult

IMAGE_PERCENT = "image_percent"
INPUT_PER_MILLE = "input_per_mille"
INPUT_UNIT = "input_unit"
INPUT_PX = "input_px"

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_MOLMO = re.compile(rf'\bx\d*\s*=\s*"\s*({_NUMBER})\s*"\s+y\d*\s*=\s*"\s*({_NUMBER})\s*"')
_POINT_2D = re.compile(rf'"point_2d"\s*:\s*\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]')
_BBOX_2D = re.compile(
    rf'"bbox_2d"\s*:\s*\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]'
)
_QWEN2_BOX = re.compile(
    rf"<\|box_start\|>\s*\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)\s*,\s*\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)"
)
_PAIR = re.compile(rf"[\(\[]\s*({_NUMBER})\s*,\s*({_NUMBER})\s*[\)\]]")

PROMPTS = {
    "molmo": "{instruction}\nPoint to the answer.",
    "qwen2_5_vl": (
        "{instruction}\nAnswer with the point of the answer in JSON format: "
        '[{{"point_2d": [x, y], "label": "answer"}}].'
    ),
    "qwen2_vl": "{instruction}\nAnswer with one point (x, y), coordinates on a 0-1000 scale.",
    "generic": "{instruction}\nAnswer with one point (x, y), coordinates normalised to 0-1.",
}


# The shortest well-formed answer of each family: the least a backbone that points must write.
MINIMAL_ANSWERS = {
    "molmo": '<point x="61.5" y="40.2" alt="handle">handle</point>',
    "qwen2_5_vl": '[{"point_2d": [212, 148], "label": "handle"}]',
    "qwen2_vl": "(512, 384)",
    "generic": "(0.52, 0.38)",
}


def minimal_answer_tokens(backbone) -> int:
    """Tokens in the backbone family's shortest well-formed pointing answer (``MINIMAL_ANSWERS``)."""
    answer = MINIMAL_ANSWERS[family_of(backbone.arch)]
    return len(backbone.processor.tokenizer(answer, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class ParsedPoint:
    """A parsed coordinate and the frame it is in (one of the ``IMAGE_*`` / ``INPUT_*`` constants)."""

    x: float
    y: float
    frame: str


def family_of(arch: str) -> str:
    """Prompt/parser family of a backbone ``arch`` (``molmo``, ``qwen2_5_vl``, ``qwen2_vl``, ``generic``)."""
    arch = (arch or "").lower()
    if "molmo" in arch:
        return "molmo"
    if "qwen2_5" in arch or "qwen2.5" in arch or "qwen3" in arch:
        return "qwen2_5_vl"
    if "qwen2" in arch:
        return "qwen2_vl"
    return "generic"


def pointing_prompt(instruction: str, arch: str) -> str:
    """The text-pointing prompt for ``instruction`` in the backbone family's trained format."""
    return PROMPTS[family_of(arch)].format(instruction=instruction.strip())


def parse_molmo(text: str) -> ParsedPoint | None:
    """First ``x=".." y=".."`` (or ``x1=".." y1=".."``) pair within 0-100."""
    for match in _MOLMO.finditer(text):
        x, y = float(match.group(1)), float(match.group(2))
        if 0 <= x <= 100 and 0 <= y <= 100:
            return ParsedPoint(x, y, IMAGE_PERCENT)
    return None


def parse_qwen2_5(text: str) -> ParsedPoint | None:
    """First ``"point_2d": [x, y]`` (also in fences or truncated JSON), else a ``bbox_2d`` centre,
    else a bare ``[x, y]`` / ``(x, y)``; input pixels."""
    match = _POINT_2D.search(text)
    if match:
        return _non_negative(float(match.group(1)), float(match.group(2)), INPUT_PX)
    match = _BBOX_2D.search(text)
    if match:
        x1, y1, x2, y2 = (float(g) for g in match.groups())
        return _non_negative((x1 + x2) / 2, (y1 + y2) / 2, INPUT_PX)
    body = re.sub(r"```(?:json)?", "", text)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, list) and len(data) == 2 and all(isinstance(v, (int, float)) for v in data):
        return _non_negative(float(data[0]), float(data[1]), INPUT_PX)
    match = _PAIR.search(body)
    return _non_negative(float(match.group(1)), float(match.group(2)), INPUT_PX) if match else None


def parse_qwen2(text: str) -> ParsedPoint | None:
    """A ``<|box_start|>(x1,y1),(x2,y2)`` centre or the first ``(x, y)``, on the 0-1000 grid."""
    match = _QWEN2_BOX.search(text)
    if match:
        x1, y1, x2, y2 = (float(g) for g in match.groups())
        x, y = (x1 + x2) / 2, (y1 + y2) / 2
    else:
        match = _PAIR.search(text)
        if not match:
            return None
        x, y = float(match.group(1)), float(match.group(2))
    return ParsedPoint(x, y, INPUT_PER_MILLE) if 0 <= x <= 1000 and 0 <= y <= 1000 else None


def parse_generic(text: str) -> ParsedPoint | None:
    """First ``(x, y)`` / ``[x, y]``: normalised 0-1 when both are <= 1, else input pixels."""
    match = _PAIR.search(text)
    if not match:
        return None
    x, y = float(match.group(1)), float(match.group(2))
    if x <= 1 and y <= 1:
        return _non_negative(x, y, INPUT_UNIT)
    return _non_negative(x, y, INPUT_PX)


def _non_negative(x: float, y: float, frame: str) -> ParsedPoint | None:
    return ParsedPoint(x, y, frame) if x >= 0 and y >= 0 else None


PARSERS = {
    "molmo": parse_molmo,
    "qwen2_5_vl": parse_qwen2_5,
    "qwen2_vl": parse_qwen2,
    "generic": parse_generic,
}


def parse_point(text: str, arch: str) -> ParsedPoint | None:
    """Parse a backbone's answer with its family's parser; ``None`` when there is no valid point."""
    if not isinstance(text, str):
        return None
    return PARSERS[family_of(arch)](text)


def to_image_point(parsed: ParsedPoint, geometry) -> tuple[float, float]:
    """Map a parsed point to ORIGINAL image pixels.

    Args:
        geometry: a ``Features``-like object with ``image_size (W, H)``, ``to_image_xy(u, v)`` and
            ``geometry.input_size (W_in, H_in)`` / ``geometry.cell_px`` (model-input pixels per grid cell,
            a number or ``(px_x, px_y)``).
    """
    if parsed.frame == IMAGE_PERCENT:
        width, height = geometry.image_size
        return parsed.x / 100.0 * width, parsed.y / 100.0 * height
    input_w, input_h = geometry.geometry.input_size
    if parsed.frame == INPUT_PX:
        px, py = parsed.x, parsed.y
    elif parsed.frame == INPUT_PER_MILLE:
        px, py = parsed.x / 1000.0 * input_w, parsed.y / 1000.0 * input_h
    elif parsed.frame == INPUT_UNIT:
        px, py = parsed.x * input_w, parsed.y * input_h
    else:
        raise ValueError(f"unknown frame {parsed.frame!r}")
    cell = geometry.geometry.cell_px
    cell_x, cell_y = (cell, cell) if isinstance(cell, (int, float)) else tuple(cell)
    x, y = geometry.to_image_xy(px / cell_x, py / cell_y)
    return float(x), float(y)


def text_point(
    backbone, image, instruction: str, *, max_new_tokens: int = 64, min_new_tokens: int = 0
) -> PointResult | None:
    """Ask ``backbone`` to point in text; ``None`` when its answer has no parseable point.
    ``min_new_tokens``: see :meth:`Backbone.generate` (the speed benchmark uses it, accuracy never does)."""
    extra = {"min_new_tokens": min_new_tokens} if min_new_tokens else {}
    generation = backbone.generate(image, pointing_prompt(instruction, backbone.arch), max_new_tokens=max_new_tokens,
                                   **extra)
    answer, geometry = generation[:2]  # (text, features): a Generation or any such pair
    parsed = parse_point(answer, backbone.arch)
    if parsed is None:
        return None
    x, y = to_image_point(parsed, geometry)
    width, height = geometry.image_size
    return PointResult(x=x, y=y, score=1.0, heatmap=None, width=int(width), height=int(height))
