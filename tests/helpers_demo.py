"""``examples/demo.py`` (the ``make demo`` script, outside the package) loaded as a module for the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
_spec = importlib.util.spec_from_file_location("partpoint_demo", _PATH)
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)
