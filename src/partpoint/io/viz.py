"""Overlays: the pointer's heatmap placed on the original image through the grid geometry, the point, a
caption.

The heatmap covers the PROCESSED region (e.g. LLaVA's centre crop), not necessarily the whole image:
each original pixel centre is mapped to grid coords with ``geometry.to_grid_uv`` and the heatmap is
sampled there bilinearly; pixels outside the processed region get no colour. Also the reliability diagram
of calibrated confidence (:func:`reliability_figure`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def heatmap_on_image(heatmap: np.ndarray, geometry, size: tuple[int, int]) -> np.ndarray:
    """Resample a heatmap onto the original image.

    Args:
        heatmap: ``(P_h * s, P_w * s)``; heatmap cell ``(i, j)`` sits at grid coords ``((j + .5) / s, (i + .5)
        / s)``. geometry: the image's ``GridGeometry`` (``grid``, ``to_grid_uv``).
        size: ``(W, H)`` of the original image.

    Returns:
        ``(H, W)`` float array, NaN where the pixel centre lies outside the processed region.
    """
    heatmap = np.asarray(heatmap, dtype=np.float64)
    grid_h, grid_w = geometry.grid
    heat_h, heat_w = heatmap.shape
    width, height = size
    u, _ = geometry.to_grid_uv(np.arange(width) + 0.5, np.zeros(width))  # (W,)
    _, v = geometry.to_grid_uv(np.zeros(height), np.arange(height) + 0.5)  # (H,)
    rows = _linear_taps(v * heat_h / grid_h - 0.5, heat_h)
    cols = _linear_taps(u * heat_w / grid_w - 0.5, heat_w)
    along_rows = heatmap[rows[0]] * (1 - rows[2])[:, None] + heatmap[rows[1]] * rows[2][:,
                                                                                        None]  # (H, heat_w)
    image = along_rows[:, cols[0]] * (1 - cols[2])[None, :] + along_rows[:, cols[1]] * cols[2][None,
                                                                                               :]  # (H, W)
    inside = ((v >= 0) & (v <= grid_h))[:, None] & ((u >= 0) & (u <= grid_w))[None, :]
    return np.where(inside, image, np.nan)


def _linear_taps(position: np.ndarray, length: int):
    """Two neighbouring indices and the weight of the second, for linear interpolation clamped at the ends."""
    position = np.clip(position, 0, length - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, length - 1)
    return low, high, position - low


def overlay(image: Image.Image, results) -> Image.Image:
    """``results`` (``PointResult``s of one image) drawn on it: one in the style of :func:`draw_overlay`,
    several in the style of :func:`draw_points_overlay`."""
    return draw_overlay(image, results[0]) if len(results) == 1 else draw_points_overlay(image, results)


def draw_overlay(image: Image.Image, result, *, caption: str | None = None, alpha: float = 0.55,
                 cmap: str = "turbo") -> Image.Image:
    """``image`` with ``result``'s heatmap (semi-transparent ``cmap``, opacity rising with the heat), a
    marker at ``(result.x, result.y)`` and ``caption`` (default: the result's instruction) in a band at the
    top. Same size as ``image``. The result's ``geometry`` places the heatmap; without it (or without a
    heatmap) only the point is drawn.
    """
    geometry = result.geometry
    caption = caption if caption is not None else result.instruction
    base = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0  # (H, W, 3)
    if geometry is not None and result.heatmap is not None:
        from matplotlib import colormaps

        heat = heatmap_on_image(result.heatmap, geometry, image.size)  # (H, W)
        peak = np.nanmax(heat) if np.isfinite(heat).any() else 0.0
        norm = np.nan_to_num(heat / peak if peak > 0 else heat * 0.0, nan=0.0).clip(0, 1)
        colour = colormaps[cmap](norm)[..., :3]  # (H, W, 3)
        opacity = np.where(np.isnan(heat), 0.0, alpha * (0.2 + 0.8 * norm))[..., None]  # (H, W, 1)
        base = base * (1 - opacity) + colour * opacity
    out = Image.fromarray((base * 255).round().astype(np.uint8), mode="RGB")
    if getattr(result, "found", True):
        _draw_marker(out, result.x, result.y)
    else:
        caption = f"not found: {caption}" if caption else "not found"
    if caption:
        _draw_caption(out, caption)
    return out


#: One colour per instruction (Okabe-Ito, distinguishable with colour-blindness), in order.
PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167), (255, 255, 255))


def draw_points_overlay(image: Image.Image, results, *, alpha: float = 0.6) -> Image.Image:
    """Several instructions on one image: each result's heatmap tinted in its own colour (opacity rising
    with the heat), its marker with that colour's core, and a legend band with one coloured line per
    result's instruction; colours follow :data:`PALETTE`."""
    base = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0  # (H, W, 3)
    for i, result in enumerate(results):
        if result.geometry is None or result.heatmap is None:
            continue
        heat = heatmap_on_image(result.heatmap, result.geometry, image.size)  # (H, W)
        peak = np.nanmax(heat) if np.isfinite(heat).any() else 0.0
        norm = np.nan_to_num(heat / peak if peak > 0 else heat * 0.0, nan=0.0).clip(0, 1)
        opacity = (alpha * norm**1.5)[..., None]  # (H, W, 1): the peak region, not a wash over the image
        base = base * (1 - opacity) + np.asarray(PALETTE[i % len(PALETTE)]) / 255.0 * opacity
    out = Image.fromarray((base * 255).round().astype(np.uint8), mode="RGB")
    for i, result in enumerate(results):
        if getattr(result, "found", True):
            _draw_marker(out, result.x, result.y, core=PALETTE[i % len(PALETTE)])
    _draw_legend(out, [(r.instruction or "") + ("" if getattr(r, "found", True) else " (not found)")
                       for r in results])
    return out


def _draw_legend(image: Image.Image, captions: list[str]) -> None:
    """One line per caption, a swatch of its colour first, in a dark band across the top."""
    if not captions:
        return
    font_size = max(10, round(image.height / 32))
    font = ImageFont.load_default(size=font_size)
    pad = font_size // 3
    chars = max(10, int((image.width - 3 * font_size) / (0.55 * font_size)))
    lines = [textwrap.shorten(c, width=chars, placeholder="...") for c in captions[:8]]
    _darken_top(image, pad * 2 + len(lines) * (font_size + pad), alpha=160)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines):
        top = pad + i * (font_size + pad)
        draw.rectangle((pad * 2, top + 2, pad * 2 + font_size - 4, top + font_size - 2),
                       fill=PALETTE[i % len(PALETTE)])
        draw.text((pad * 3 + font_size, top), text, fill=(255, 255, 255), font=font)


def _draw_marker(image: Image.Image, x: float, y: float, core: tuple[int, int, int] = (255, 0, 200)) -> None:
    """A ring-and-cross marker readable on any background (black outline, white ring, coloured core)."""
    draw = ImageDraw.Draw(image)
    radius = max(5, round(0.025 * min(image.size)))
    line = max(2, radius // 4)
    for colour, grow in (((0, 0, 0), line), ((255, 255, 255), 0)):
        r = radius + grow
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=line + grow)
        draw.line((x - 2 * r, y, x - r, y), fill=colour, width=line + grow)
        draw.line((x + r, y, x + 2 * r, y), fill=colour, width=line + grow)
        draw.line((x, y - 2 * r, x, y - r), fill=colour, width=line + grow)
        draw.line((x, y + r, x, y + 2 * r), fill=colour, width=line + grow)
    dot = max(2, radius // 3)
    draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=core, outline=(0, 0, 0))


def _darken_top(image: Image.Image, height: int, *, alpha: int) -> None:
    """A translucent black band of ``height`` pixels across the top of ``image`` (in place), for text."""
    band = Image.new("RGBA", (image.width, height), (0, 0, 0, alpha))
    region = image.crop((0, 0, image.width, height)).convert("RGBA")
    image.paste(Image.alpha_composite(region, band).convert("RGB"), (0, 0))


def _draw_caption(image: Image.Image, text: str) -> None:
    """``text`` wrapped in a dark translucent band across the top of ``image`` (drawn in place)."""
    font_size = max(10, round(image.height / 28))
    font = ImageFont.load_default(size=font_size)
    chars_per_line = max(10, int(image.width / (0.55 * font_size)))
    lines = textwrap.wrap(text, width=chars_per_line)[:3]
    pad = font_size // 3
    _darken_top(image, pad * 2 + len(lines) * (font_size + pad), alpha=150)
    draw = ImageDraw.Draw(image)
    for i, line_text in enumerate(lines):
        draw.text((pad * 2, pad + i * (font_size + pad)), line_text, fill=(255, 255, 255), font=font)


def reliability_figure(curves: dict[str, list[dict]], path, *, title: str = "Reliability") -> None:
    """A reliability diagram: per calibration bin (``evaluation.metrics.reliability``) the hit rate against
    the mean confidence, one line per curve (its label gains the ECE), the diagonal as perfect calibration;
    written to ``path`` (PNG) atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .atomic import atomic_write

    figure, axis = plt.subplots(figsize=(4.8, 4.4), dpi=110)
    axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect")
    for label, bins in curves.items():
        n = sum(b["n"] for b in bins)
        ece = sum(b["n"] / n * abs(b["hit_rate"] - b["confidence"]) for b in bins) if n else float("nan")
        axis.plot([b["confidence"] for b in bins], [b["hit_rate"] for b in bins], marker="o", markersize=3,
                  label=f"{label} (ECE {ece:.3f}, n {n})")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (15 bins)", ylabel="hit rate", title=title)
    axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
