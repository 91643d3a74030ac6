"""Build a transformers model without initialising its weights, then take a converted state dict as is."""

from __future__ import annotations

from ...errors import WeightsError


def load_converted(build, state: dict, *, source: str):
    """``build()`` under accelerate's ``init_empty_weights`` (parameters on meta, buffers real, so
    non-persistent buffers such as RoPE's ``inv_freq`` keep their values), then ``state`` assigned
    strictly. WeightsError names ``source`` when a key is missing or unexpected. Returns the model in eval."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = build()
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise WeightsError(f"{source} does not map onto {type(model).__name__} (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}); it is not the pinned file")
    model.load_state_dict(state, assign=True, strict=True)
    return model.eval()
