"""``docs/gallery.png``: ours vs attention pointing (heatmap + point) on SynthParts test scenes and real
photos, with the ground-truth mask outline in green and a hit/miss tag per panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PANEL_WIDTH = 320
OUTLINE = (40, 255, 90)


def outline(image: Image.Image, mask: np.ndarray, *, width: int = 2) -> Image.Image:
    """``image`` with the boundary of ``mask (H, W)`` painted (about ``width`` pixels thick)."""
    from scipy.ndimage import binary_dilation, binary_erosion

    edge = mask & ~binary_erosion(mask, iterations=width)
    edge = binary_dilation(edge, iterations=max(width // 2, 1)) if width > 1 else edge
    pixels = np.asarray(image.convert("RGB")).copy()
    pixels[edge] = OUTLINE
    return Image.fromarray(pixels)


def panel(image: Image.Image, mask: np.ndarray, result, tag: str) -> Image.Image:
    """One overlay (the result's heatmap, point and instruction) with the mask outline, resized to
    ``PANEL_WIDTH`` and tagged in its bottom band."""
    from partpoint.evaluation import point_hit
    from partpoint.io.viz import draw_overlay

    drawn = outline(draw_overlay(image, result), mask)
    hit = point_hit(mask, result.x, result.y)
    height = round(drawn.height * PANEL_WIDTH / drawn.width)
    drawn = drawn.resize((PANEL_WIDTH, height), Image.BILINEAR)
    band = Image.new("RGB", (PANEL_WIDTH, 20), (255, 255, 255))
    ImageDraw.Draw(band).text((6, 4), f"{tag}: {'HIT' if hit else 'miss'}", fill=(0, 120, 0) if hit else (200, 0, 0))
    out = Image.new("RGB", (PANEL_WIDTH, height + 20), (255, 255, 255))
    out.paste(drawn, (0, 0))
    out.paste(band, (0, height))
    return out


def pick(dataset, count: int) -> list:
    """``count`` samples spread over ``dataset``."""
    if count <= 0 or len(dataset) == 0:
        return []
    return [dataset[i] for i in np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(int))]


def run_gallery(settings, subject, cells, out_path: Path) -> dict:
    """Render the gallery for ``subject`` from the main-table ``cells``; returns the ``gallery.json`` record."""
    from partpoint.baselines import attention_point
    from partpoint.data import open_dataset
    from partpoint.predictor import load_pointer

    predictor = load_pointer(subject.backbone, subject.pointer_dir)
    heads = predictor.heads
    by_name = {cell.name: cell for cell in cells if cell.spec}
    samples = [("SynthParts", s) for s in pick(open_dataset(by_name["SynthParts direct"].spec),
                                               settings.gallery_synth)] if "SynthParts direct" in by_name else []
    real = [name for name in ("Car-Parts test", "InstructPart reason") if name in by_name]
    for index, name in enumerate(real):
        share = settings.gallery_real // len(real) + (index < settings.gallery_real % len(real))
        samples += [(name, s) for s in pick(open_dataset(by_name[name].spec), share)]
    rows, records = [], []
    for source, sample in samples:
        ours = predictor.point(sample.image, sample.instruction)
        features = subject.backbone.encode(sample.image, sample.instruction, layers=predictor.model.identity.layers)
        attention = attention_point(features, heads, instruction=sample.instruction)
        left = panel(sample.image, sample.mask, ours, "ours")
        right = panel(sample.image, sample.mask, attention, "attention pointing")
        row = Image.new("RGB", (2 * PANEL_WIDTH + 8, max(left.height, right.height)), (255, 255, 255))
        row.paste(left, (0, 0))
        row.paste(right, (PANEL_WIDTH + 8, 0))
        rows.append(row)
        records.append({"source": source, "key": sample.meta.get("key"), "instruction": sample.instruction,
                        "ours": [ours.x, ours.y], "attention": [attention.x, attention.y]})
    header = Image.new("RGB", (2 * PANEL_WIDTH + 8, 24), (255, 255, 255))
    draw = ImageDraw.Draw(header)
    draw.text((6, 6), f"ours ({subject.name})", fill=(0, 0, 0))
    draw.text((PANEL_WIDTH + 14, 6), "attention pointing (same heads)", fill=(0, 0, 0))
    sheet = Image.new("RGB", (header.width, header.height + sum(r.height + 6 for r in rows)), (255, 255, 255))
    sheet.paste(header, (0, 0))
    top = header.height
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height + 6
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return {"backbone": subject.name, "path": str(out_path), "samples": records,
            "legend": "green outline: ground-truth part mask; colours: heatmap; marker: the predicted point"}
