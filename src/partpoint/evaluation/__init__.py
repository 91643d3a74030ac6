"""Evaluation: hit rate, patch accuracy, per-category scores and counting of any pointing method on a dataset.

``evaluate(method, backbone=..., dataset=...)`` (``run.py``) runs a method; ``metrics.py`` scores it;
``methods.py`` names the methods (light: the CLI imports it without torch).
"""

from __future__ import annotations

from .methods import METHODS, MethodError

_LAZY = {"evaluate": "run", "CategoryScore": "metrics", "EvalResult": "metrics",
         "point_hit": "metrics", "patch_hit": "metrics", "sample_count": "metrics",
         "heatmap_points": "metrics",
         "COUNT_PEAK_SEPARATION": "metrics"}

__all__ = ["METHODS", "MethodError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
