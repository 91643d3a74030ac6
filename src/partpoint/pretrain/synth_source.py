"""SynthParts train scenes as pretraining items (rendered once; QA from the scene graph, no coordinates)."""

from __future__ import annotations


def synth_train_items(n: int, *, n_single: int, seed: int, progress: bool = True, split: str = "train"):
    """``n`` scenes of ``split`` (the first ``n_single`` with one object: the curriculum's easy stage)."""
    from ..errors import DataError

    try:
        from ..data.synth import qa as synth_qa  # noqa: F401
    except ImportError as e:
        raise DataError("the SynthParts generator (partpoint.data.synth) is not installed; update partpoint") from e
    raise DataError("SynthParts adapter not wired yet")
