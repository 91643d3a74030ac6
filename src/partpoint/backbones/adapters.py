"""Imports every architecture's adapter module so each registers itself (see adapter.register_adapter)."""

from __future__ import annotations

from . import fast_vlm, llava, molmo2, paligemma, qwen2_5_vl, qwen2_vl  # noqa: F401
