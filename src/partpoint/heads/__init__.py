"""Localization-head selection (Kang et al., CVPR 2025): attention-mass elbow, spatial entropy, votes."""

from __future__ import annotations

from .criteria import (
                       REFERENCE,
                       HeadScores,
                       SelectionRules,
                       elbow_threshold,
                       score_heads,
                       spatial_entropy,
                       vote_heads,
)
from .selection import HeadSelection, aggregate_votes, read_heads, sample_scores, select_heads

__all__ = [
    "REFERENCE", "HeadScores", "HeadSelection", "SelectionRules", "aggregate_votes", "elbow_threshold",
    "read_heads", "sample_scores", "score_heads", "select_heads", "spatial_entropy", "vote_heads"
]
