"""Backgrounds: smooth gradients, low-frequency noise, stripes, checkers and clutter."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .palette import muted_rgb

STYLES = ("gradient", "stripes", "checker")


def _low_frequency_noise(rng: np.random.Generator, width: int, height: int, *, cell: int = 48) -> np.ndarray:
    """(H, W) float noise in [-1, 1], smooth at the scale of ``cell`` pixels."""
    small = rng.uniform(-1, 1, size=(height // cell + 2, width // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((width, height), Image.BICUBIC))


def make_background(rng: np.random.Generator, width: int, height: int, *, clutter_p: float) -> np.ndarray:
    """(H, W, 3) float32 background in 0..255: a two-colour base, a texture, optional clutter."""
    c0, c1 = muted_rgb(rng), muted_rgb(rng)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = (xs * np.cos(angle) + ys * np.sin(angle)) / max(width, height)  # (H, W), ~[-1, 1]
    style = STYLES[int(rng.integers(0, len(STYLES)))]
    if style == "gradient":
        t = np.clip(along - along.min(), 0, 1)
    elif style == "stripes":
        period = rng.uniform(0.04, 0.15)
        t = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * along / period)) * rng.uniform(0.15, 0.4)
    else:
        size = int(rng.integers(16, 64))
        t = (((xs // size) + (ys // size)) % 2) * rng.uniform(0.2, 0.45)
    image = c0 + t[..., None] * (c1 - c0)  # (H, W, 3)
    image *= 1.0 + 0.12 * _low_frequency_noise(rng, width, height)[..., None]
    if rng.random() < clutter_p:
        image = _clutter(rng, np.clip(image, 0, 255))
    return np.clip(image, 0, 255).astype(np.float32)


def _clutter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Scatter 8-30 random muted blobs, bars and lines over ``image`` (H, W, 3)."""
    height, width = image.shape[:2]
    canvas = Image.fromarray(image.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    short = min(width, height)
    for _ in range(int(rng.integers(8, 31))):
        fill = tuple(int(v) for v in muted_rgb(rng, saturation=(0.05, 0.5), value=(0.25, 0.9)))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.02, 0.12) * short
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x - r, y - r * rng.uniform(0.4, 1.0), x + r, y + r * rng.uniform(0.4, 1.0)],
                         fill=fill)
        elif kind == 1:
            draw.rectangle([x - r, y - r / 2, x + r, y + r / 2], fill=fill)
        else:
            a = rng.uniform(0, np.pi)
            draw.line([x, y, x + 2 * r * np.cos(a), y + 2 * r * np.sin(a)], fill=fill,
                      width=int(rng.integers(2, 6)))
    return np.asarray(canvas, dtype=np.float32)
