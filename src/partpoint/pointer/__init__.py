"""The pointer: per-head Q-Synth query synthesis and the A2P heatmap decoder, plus save/load."""

from __future__ import annotations

from .a2p import A2PDecoder
from .batch import PointerBatch, collate, gather_heads, last_token_query
from .config import PointerConfig
from .decode import heatmap_peak
from .model import PartPointer
from .qsynth import QSynth
from .result import PointerOutput, PointResult

__all__ = [
    "A2PDecoder",
    "PartPointer",
    "PointResult",
    "PointerBatch",
    "PointerConfig",
    "PointerOutput",
    "QSynth",
    "collate",
    "gather_heads",
    "heatmap_peak",
    "last_token_query",
]
