"""Exact Q/K/V capture through transformers' ``AttentionInterface``.

``CAPTURE_ATTN`` names an attention function that runs the attention module's own eager
implementation (the ``eager_attention_forward`` of the module's modeling file) and, while a
:class:`Recorder` is active, keeps the post-RoPE queries, keys, values and the final prompt tokens'
attention rows of the requested layers. After the deepest requested layer it raises
:class:`EarlyExit`, which ``Backbone`` catches: nothing deeper runs.

The same name is registered with ``AttentionMaskInterface`` as the eager mask; without that the
mask builder returns ``None`` for unknown implementations and attention silently turns non-causal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch

from ..errors import CaptureError

CAPTURE_ATTN = "partpoint_capture"


class EarlyExit(Exception):
    """Raised after the deepest requested layer's attention; carries no data (the recorder has it)."""


@dataclass
class LayerRecord:
    """Raw tensors of one layer, batch-first as the attention function sees them."""

    query: torch.Tensor  # (B, H, S, d) post-RoPE
    key: torch.Tensor  # (B, H_kv, S, d) post-RoPE
    value: torch.Tensor  # (B, H_kv, S, d)
    last_row: torch.Tensor  # (B, H, S) softmax row of each sample's final prompt token
    scale: float


@dataclass
class Recorder:
    """Collects ``LayerRecord`` for ``layers``; ``final_positions[b]`` is sample b's final prompt token."""

    layers: frozenset[int]
    final_positions: torch.Tensor  # (B,) long
    early_exit: bool = True
    records: dict[int, LayerRecord] = field(default_factory=dict)

    def record(self, layer: int, query, key, value, weights, scale: float) -> None:
        batch = torch.arange(query.shape[0], device=weights.device)
        rows = weights[batch, :, self.final_positions.to(weights.device), :]  # (B, H, S)
        self.records[layer] = LayerRecord(query.detach(), key.detach(), value.detach(), rows.detach(),
                                          float(scale))
        if self.early_exit and layer == max(self.layers):
            raise EarlyExit


_ACTIVE: ContextVar[Recorder | None] = ContextVar("partpoint_recorder", default=None)


@contextmanager
def recording(recorder: Recorder):
    """Activate ``recorder`` for forwards run inside the block (``EarlyExit`` is swallowed here)."""
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    except EarlyExit:
        pass
    finally:
        _ACTIVE.reset(token)


def eager_function_for(module: torch.nn.Module) -> Callable:
    """The eager attention function of ``module``'s own modeling file (softcapping etc. included)."""
    eager = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if eager is None:
        raise CaptureError(
            f"{type(module).__name__} has no eager_attention_forward in its modeling file, so its attention "
            "cannot be captured; use an architecture partpoint supports (see "
            "partpoint.backbones.SUPPORTED_ARCHS)"
        )
    return eager


def capture_attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """``AttentionInterface`` function: eager attention, recording what the active recorder asks for.

    query: (B, H, S, d); key, value: (B, H_kv, S, d); returns ``(out (B, S, H, d), weights (B, H, S, S))``.
    """
    out, weights = eager_function_for(module)(module, query, key, value, attention_mask, scaling=scaling,
                                              dropout=dropout, **kwargs)
    recorder = _ACTIVE.get()
    layer = getattr(module, "layer_idx", None)
    if recorder is not None and layer in recorder.layers:
        recorder.record(layer, query, key, value, weights, module.scaling if scaling is None else scaling)
    return out, weights


def register() -> None:
    """Register ``CAPTURE_ATTN`` with transformers' attention and attention-mask interfaces (idempotent)."""
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(CAPTURE_ATTN, capture_attention_forward)
    AttentionMaskInterface.register(CAPTURE_ATTN, eager_mask)
