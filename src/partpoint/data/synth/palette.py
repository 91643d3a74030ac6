"""The named colour palette: clearly distinct colours whose names the instructions and QA use."""

from __future__ import annotations

import colorsys

import numpy as np

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 30, 35),
    "green": (40, 150, 60),
    "blue": (35, 80, 205),
    "yellow": (240, 210, 40),
    "orange": (245, 130, 25),
    "purple": (125, 50, 165),
    "pink": (245, 135, 185),
    "brown": (120, 72, 35),
    "black": (28, 28, 30),
    "white": (242, 242, 238),
    "gray": (135, 135, 138),
}
COLOR_NAMES: tuple[str, ...] = tuple(PALETTE)


def jittered_rgb(name: str, rng: np.random.Generator, *, amount: float = 12.0) -> np.ndarray:
    """RGB (3,) float in 0..255 near the palette colour ``name``, still clearly that colour."""
    base = np.asarray(PALETTE[name], dtype=np.float32)
    brightness = 1.0 + rng.uniform(-0.07, 0.07)
    return np.clip(base * brightness + rng.uniform(-amount, amount, size=3), 0, 255)


def muted_rgb(rng: np.random.Generator, *, saturation=(0.08, 0.4), value=(0.35, 0.85)) -> np.ndarray:
    """A random low-saturation RGB (3,) float colour for backgrounds and clutter."""
    h = rng.uniform(0, 1)
    s = rng.uniform(*saturation)
    v = rng.uniform(*value)
    return np.asarray(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32) * 255.0


def other_color(exclude: str | set[str], rng: np.random.Generator) -> str:
    """A palette name not in ``exclude``."""
    excluded = {exclude} if isinstance(exclude, str) else set(exclude)
    choices = [c for c in COLOR_NAMES if c not in excluded]
    return str(rng.choice(choices))
