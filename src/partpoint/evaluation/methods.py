"""The pointing methods ``partpoint eval`` and the benchmarks know (no heavy imports: the CLI reads it)."""

from __future__ import annotations

from ..errors import PartPointError

METHODS = ("ours", "example", "attention", "text", "center", "random")


class MethodError(PartPointError, ValueError):
    """An unknown evaluation method, or one missing what it needs."""
