"""The pointer: per-head Q-Synth query synthesis and the A2P heatmap decoder, plus save/load."""

from __future__ import annotations

from .a2p import A2PDecoder
from .batch import PointerBatch, SampleFeatures, collate, last_token_query
from .config import PointerConfig, PointerIdentity, setting
from .decode import Peak, heatmap_peak
from .model import PartPointer
from .qsynth import QSynth
from .result import PointerOutput, PointResult

__all__ = [
    "A2PDecoder", "PartPointer", "Peak", "PointResult", "PointerBatch", "PointerConfig", "PointerIdentity",
    "PointerOutput", "QSynth", "SampleFeatures", "collate", "heatmap_peak", "last_token_query", "setting"
]
