"""Shared text pieces of the pretraining corpus: the QA record and the no-coordinates check."""

from __future__ import annotations

import re
from typing import NamedTuple

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


class QA(NamedTuple):
    """One question-answer turn; ``kind`` is the question type used for per-type accuracy."""

    question: str
    answer: str
    kind: str


#: Patterns that would teach a model to point or box: any digit (numbers are written as words in this
#: corpus, so a digit can only be a coordinate), point/box/mask vocabulary, coordinate tuples and tags.
_LEAK_PATTERNS = (
    re.compile(r"\d"),
    re.compile(r"\bpoint", re.IGNORECASE),
    re.compile(r"\bbox", re.IGNORECASE),
    re.compile(r"\bbbox", re.IGNORECASE),
    re.compile(r"\bmask", re.IGNORECASE),
    re.compile(r"\bcoordinat", re.IGNORECASE),
    re.compile(r"\bpixel", re.IGNORECASE),
    re.compile(r"<\s*(point|box|ref|loc|quad|obj)", re.IGNORECASE),
    re.compile(r"\(\s*[xy]\b", re.IGNORECASE),
    re.compile(r"\b[xy]\s*[=:]", re.IGNORECASE),
)


def coordinate_leaks(text: str) -> list[str]:
    """Substrings of ``text`` that look like coordinates or pointing vocabulary ([] when clean)."""
    return [m.group(0) for pattern in _LEAK_PATTERNS for m in pattern.finditer(text)]
