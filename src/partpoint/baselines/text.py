"""Text pointing: ask the backbone for a point in words, parse its answer, map it to image pixels.

Answer formats, per family (what each model was trained to write; PointArena's parsers and the
models' own documentation):

- ``molmo`` (Molmo, Molmo2): ``<point x="61.5" y="40.2" alt="..">..</point>``,
  ``<points x1=".." y1=".." x2=".." y2="..">``, ``Click(61.5, 40.2)`` and a bare ``(61.5, 40.2)``;
  percent (0-100) of the ORIGINAL image.
- ``qwen2_5_vl``: JSON ``[{"point_2d": [x, y]}]`` / ``{"bbox_2d": [x1, y1, x2, y2]}`` (often in a
  ```json fence, sometimes truncated, ints or floats), ``<points x1="" y1="">`` XML and ``x: .., y: ..``;
  absolute pixels of the RESIZED model input (partpoint maps them back through the processor's resize).
- ``qwen3_vl``: the same formats on a 0-1000 grid of the input.
- ``qwen2_vl``: ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` or ``(x, y)`` on a 0-1000 grid. The box
  tokens are special tokens: ``Backbone.generate`` keeps them in ``Generation.raw_text`` for parsing.
- ``generic`` (LLaVA, Idefics3, PaliGemma, ...): ``(x, y)`` / ``[x, y]`` / ``x=.., y=..`` pairs and
  ``[x1, y1, x2, y2]`` boxes, normalised 0-1 when every value is <= 1, else input pixels. Normalised
  values refer to the frame the adapter names: the processed input (``input_unit``, e.g. a centre
  crop) or LLaVA-1.5's pad-to-square frame of the original image (``pad_square_unit``, the frame it
  was trained on).

A box gives its centre. Where several coordinates appear the FIRST IN TEXT ORDER wins (PointArena tries
its patterns one after another and takes the first pattern's first match, so ``Click(..)`` later in a
sentence beats a ``<point>`` tag written first; the model's first-written point is its answer). Points
outside the frame's range are dropped. The parsers never raise: anything unreadable gives ``None``
(the evaluation counts it as a miss).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..pointer.result import PointResult

IMAGE_PERCENT = "image_percent"
INPUT_PER_MILLE = "input_per_mille"
INPUT_UNIT = "input_unit"
INPUT_PX = "input_px"
PAD_SQUARE_UNIT = "pad_square_unit"
UNIT_FRAMES = (INPUT_UNIT, PAD_SQUARE_UNIT)
_LIMITS = {IMAGE_PERCENT: 100.0, INPUT_PER_MILLE: 1000.0, INPUT_UNIT: 1.0, PAD_SQUARE_UNIT: 1.0,
           INPUT_PX: math.inf}

_N = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))"  # one number, captured
_Q = r"""["']?"""  # optional quote around an attribute value
_SEP = r"\s*,\s*"

# A family's patterns: (regex, kind). kind "pair" = (x, y); "box" = (x1, y1, x2, y2) -> centre;
# "tag" = a <point(s) ...> tag whose x/y (x1/y1, x2/y2, ...) attributes are read in index order.
_TAG = (re.compile(r"<points?\b([^<>]{0,2000})>"), "tag")
_ATTR = re.compile(rf"\b([xy])(\d*)\s*=\s*{_Q}\s*{_N}\s*{_Q}")
_ATTR_PAIR = (re.compile(rf"\bx\d*\s*[=:]\s*{_Q}\s*{_N}\s*{_Q}\s*,?\s*y\d*\s*[=:]\s*{_Q}\s*{_N}"), "pair")
_CLICK = (re.compile(rf"Click\(\s*{_N}{_SEP}{_N}\s*\)"), "pair")
_PAREN_PAIR = (re.compile(rf"\(\s*{_N}\s*(?:,\s*|\s+){_N}\s*\)"), "pair")
_BRACKET_PAIR = (re.compile(rf"[\(\[]\s*{_N}{_SEP}{_N}\s*[\)\]]"), "pair")
_BRACKET_BOX = (re.compile(rf"[\(\[]\s*{_N}{_SEP}{_N}{_SEP}{_N}{_SEP}{_N}\s*[\)\]]"), "box")
_POINT_2D = (re.compile(rf'"point_2d"\s*:\s*\[\s*{_N}{_SEP}{_N}\s*\]'), "pair")
_BBOX_2D = (re.compile(rf'"bbox_2d"\s*:\s*\[\s*{_N}{_SEP}{_N}{_SEP}{_N}{_SEP}{_N}\s*\]'), "box")
_QWEN2_BOX = (re.compile(rf"<\|box_start\|>\s*\(\s*{_N}{_SEP}{_N}\s*\)\s*,\s*\(\s*{_N}{_SEP}{_N}\s*\)"),
              "box")

_FAMILY_PATTERNS = {
    "molmo": (_TAG, _ATTR_PAIR, _CLICK, _PAREN_PAIR),
    "qwen2_5_vl": (_POINT_2D, _BBOX_2D, _TAG, _ATTR_PAIR, _BRACKET_BOX, _BRACKET_PAIR),
    "qwen2_vl": (_QWEN2_BOX, _BRACKET_BOX, _BRACKET_PAIR),
    "generic": (_BRACKET_BOX, _BRACKET_PAIR, _ATTR_PAIR),
}
_FAMILY_PATTERNS["qwen3_vl"] = _FAMILY_PATTERNS["qwen2_5_vl"]
_FAMILY_FRAME = {"molmo": IMAGE_PERCENT, "qwen2_5_vl": INPUT_PX, "qwen3_vl": INPUT_PER_MILLE,
                 "qwen2_vl": INPUT_PER_MILLE, "generic": None}  # generic: unit frame or input pixels

PROMPTS = {
    "molmo": "{instruction}\nPoint to the answer.",
    "qwen2_5_vl": (
        "{instruction}\nAnswer with the point of the answer in JSON format: "
        '[{{"point_2d": [x, y], "label": "answer"}}].'
    ),
    "qwen3_vl": (
        "{instruction}\nAnswer with the point of the answer in JSON format: "
        '[{{"point_2d": [x, y], "label": "answer"}}], coordinates on a 0-1000 scale.'
    ),
    "qwen2_vl": "{instruction}\nAnswer with one point (x, y), coordinates on a 0-1000 scale.",
    "generic": "{instruction}\nAnswer with one point (x, y), coordinates normalised to 0-1.",
}

# The shortest well-formed answer of each family: the least a backbone that points must write.
MINIMAL_ANSWERS = {
    "molmo": '<point x="61.5" y="40.2" alt="handle">handle</point>',
    "qwen2_5_vl": '[{"point_2d": [212, 148], "label": "handle"}]',
    "qwen3_vl": '[{"point_2d": [512, 384], "label": "handle"}]',
    "qwen2_vl": "(512, 384)",
    "generic": "(0.52, 0.38)",
}


def minimal_answer_tokens(backbone) -> int:
    """Tokens in the backbone family's shortest well-formed pointing answer (``MINIMAL_ANSWERS``)."""
    answer = MINIMAL_ANSWERS[family_of(backbone.arch)]
    return len(backbone.processor.tokenizer(answer, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class ParsedPoint:
    """A parsed coordinate and the frame it is in (one of the ``IMAGE_*`` / ``INPUT_*`` / ``PAD_*``
    constants)."""

    x: float
    y: float
    frame: str


def family_of(arch: str) -> str:
    """Prompt/parser family of a backbone ``arch``: ``molmo``, ``qwen2_5_vl``, ``qwen3_vl``, ``qwen2_vl``,
    ``generic``."""
    arch = (arch or "").lower()
    if "molmo" in arch:
        return "molmo"
    if "qwen3" in arch:
        return "qwen3_vl"
    if "qwen2_5" in arch or "qwen2.5" in arch:
        return "qwen2_5_vl"
    if "qwen2" in arch:
        return "qwen2_vl"
    return "generic"


def pointing_prompt(instruction: str, arch: str) -> str:
    """The text-pointing prompt for ``instruction`` in the backbone family's trained format."""
    return PROMPTS[family_of(arch)].format(instruction=instruction.strip())


def _tag_points(attributes: str) -> list[tuple[float, float]]:
    """``x=".." y=".."`` or ``x1 y1 x2 y2 ..`` attributes of one tag -> points in index order."""
    xs, ys = {}, {}
    for axis, index, value in _ATTR.findall(attributes):
        (xs if axis == "x" else ys).setdefault(index, float(value))
    return [(xs[i], ys[i]) for i in sorted(xs, key=lambda i: int(i) if i else 0) if i in ys]


def _read(match: re.Match, kind: str) -> list[tuple[float, float]]:
    if kind == "tag":
        return _tag_points(match.group(1))
    values = [float(g) for g in match.groups()]
    if kind == "box":
        x1, y1, x2, y2 = values
        return [((x1 + x2) / 2, (y1 + y2) / 2)]
    return [(values[0], values[1])]


def _in_frame(x: float, y: float, frame: str) -> bool:
    limit = _LIMITS[frame]
    return math.isfinite(x) and math.isfinite(y) and 0 <= x <= limit and 0 <= y <= limit


def parse_points(text, arch: str, *, unit_frame: str = INPUT_UNIT) -> list[ParsedPoint]:
    """Every point of a backbone's answer, in text order (overlapping matches: the earliest, then the
    longest wins); points outside their frame's range are dropped. Never raises.

    Args:
        arch: the backbone's ``model_type`` (picks the family's patterns and frame).
        unit_frame: the frame of normalised 0-1 answers of the ``generic`` family (``input_unit`` or
            ``pad_square_unit``; the adapter's ``text_unit_frame``).
    """
    if not isinstance(text, str) or not text:
        return []
    family = family_of(arch)
    found = []  # (start, -length, order, points)
    for order, (regex, kind) in enumerate(_FAMILY_PATTERNS[family]):
        for match in regex.finditer(text):
            found.append((match.start(), -(match.end() - match.start()), order, match.end(),
                          _read(match, kind)))
    found.sort(key=lambda item: item[:3])
    points, covered_to = [], -1
    for start, _, _, end, values in found:
        if start < covered_to:
            continue  # inside an earlier match (e.g. the pair inside Click(..) or a bbox)
        frame = _FAMILY_FRAME[family]
        if frame is None:  # generic: normalised when every value is <= 1
            frame = unit_frame if all(abs(v) <= 1 for point in values for v in point) else INPUT_PX
        kept = [ParsedPoint(x, y, frame) for x, y in values if _in_frame(x, y, frame)]
        if values:
            covered_to = end
        points.extend(kept)
    return points


def parse_point(text, arch: str, *, unit_frame: str = INPUT_UNIT) -> ParsedPoint | None:
    """The first point of a backbone's answer (:func:`parse_points`); ``None`` when there is none."""
    points = parse_points(text, arch, unit_frame=unit_frame)
    return points[0] if points else None


def parse_molmo(text: str) -> ParsedPoint | None:
    return parse_point(text, "molmo")


def parse_qwen2_5(text: str) -> ParsedPoint | None:
    return parse_point(text, "qwen2_5_vl")


def parse_qwen2(text: str) -> ParsedPoint | None:
    return parse_point(text, "qwen2_vl")


def parse_generic(text: str) -> ParsedPoint | None:
    return parse_point(text, "generic")


def to_image_point(parsed: ParsedPoint, geometry, image_size: tuple[int, int]) -> tuple[float, float]:
    """Map a parsed point to ORIGINAL image pixels, through the ``GridGeometry`` of the ``image_size``
    ``(W, H)`` image (its ``input_size``, ``cell_px`` and ``to_image_xy``)."""
    width, height = image_size
    if parsed.frame == IMAGE_PERCENT:
        return parsed.x / 100.0 * width, parsed.y / 100.0 * height
    if parsed.frame == PAD_SQUARE_UNIT:  # the image centred on a max(W, H) square
        side = max(width, height)
        return parsed.x * side - (side - width) / 2, parsed.y * side - (side - height) / 2
    input_w, input_h = geometry.input_size
    if parsed.frame == INPUT_PX:
        px, py = parsed.x, parsed.y
    elif parsed.frame == INPUT_PER_MILLE:
        px, py = parsed.x / 1000.0 * input_w, parsed.y / 1000.0 * input_h
    elif parsed.frame == INPUT_UNIT:
        px, py = parsed.x * input_w, parsed.y * input_h
    else:
        raise ValueError(f"unknown frame {parsed.frame!r}")
    x, y = geometry.input_to_image_xy(px, py)
    return float(x), float(y)


def text_points(backbone, image, instruction: str, *, max_new_tokens: int = 64, min_new_tokens: int = 0,
                unit_frame: str | None = None) -> tuple[list[tuple[float, float]], object]:
    """Every point of the backbone's text answer in ORIGINAL pixels, and the ``Generation`` it parsed
    (the raw decode, special tokens kept, when there is one)."""
    extra = {"min_new_tokens": min_new_tokens} if min_new_tokens else {}
    generation = backbone.generate(image, pointing_prompt(instruction, backbone.arch),
                                   max_new_tokens=max_new_tokens,
                                   **extra)
    if unit_frame is None:
        adapter = getattr(backbone, "adapter", None)
        unit_frame = adapter.text_unit_frame(backbone.processor) if hasattr(adapter,
                                                                            "text_unit_frame") else INPUT_UNIT
    parsed = parse_points(generation.raw_text or generation.text, backbone.arch, unit_frame=unit_frame)
    return [to_image_point(point, generation.geometry, generation.image_size) for point in parsed], generation


def text_point(backbone, image, instruction: str, *, max_new_tokens: int = 64, min_new_tokens: int = 0,
               unit_frame: str | None = None) -> PointResult | None:
    """Ask ``backbone`` to point in text; ``None`` when its answer has no parseable point.
    ``min_new_tokens``: see :meth:`Backbone.generate` (the speed benchmark uses it, accuracy never does).
    ``unit_frame``: frame of normalised answers; ``None`` = the backbone adapter's ``text_unit_frame``."""
    points, generation = text_points(backbone, image, instruction, max_new_tokens=max_new_tokens,
                                     min_new_tokens=min_new_tokens, unit_frame=unit_frame)
    if not points:
        return None
    width, height = generation.image_size
    x, y = points[0]
    return PointResult(x=float(x), y=float(y), score=1.0, heatmap=None, width=int(width), height=int(height))
