"""One SynthParts scene: sample objects, place them, render with exact instance/part label maps.

Rendering draws each object's regions as polygons into a label crop (back to front), colours and
shades it, and pastes it over the image; later objects occlude earlier ones. A part mask is
therefore exactly the pixels showing that part: ``(instance_map == k) & (region_map == r)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .background import make_background
from .categories import CATEGORIES
from .config import SynthConfig
from .palette import COLOR_NAMES, jittered_rgb, other_color
from .refexp import Referent, refer
from .shapes import Polygon, affine, apply, bounds, normalize

VARIATIONS = ("color", "size", "position")


@dataclass(kw_only=True)
class PlacedObject:
    """An object instance in image pixels: regions (back to front) and their colour names."""

    category: str
    color: str  # the colour name of the category's main region
    region_colors: dict[str, str]
    regions: dict[str, list[Polygon]]  # image-pixel polygons
    span: float  # longest extent in pixels before rotation
    angle: float
    variation: str  # "" or how this same-category distractor differs from the object it repeats

    @property
    def part_colors(self) -> dict[str, str]:
        return {p: self.region_colors[p] for p in CATEGORIES[self.category].parts}


@dataclass(kw_only=True)
class Scene:
    """A rendered scene: pixels, label maps and the objects behind them."""

    image: np.ndarray  # (H, W, 3) uint8
    instance_map: np.ndarray  # (H, W) int16, -1 = background, else index into ``objects``
    region_map: np.ndarray  # (H, W) uint8, 0 = none, r = 1-based region index of that object
    objects: list[PlacedObject]
    draw_order: list[int]
    full_areas: list[int]  # unoccluded pixel count per object

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    def region_index(self, instance: int, region: str) -> int:
        return list(self.objects[instance].regions).index(region) + 1

    def part_mask(self, instance: int, part: str) -> np.ndarray:
        """(H, W) bool visible pixels of ``part`` of object ``instance``."""
        return (self.instance_map == instance) & (self.region_map == self.region_index(instance, part))

    def object_mask(self, instance: int) -> np.ndarray:
        """(H, W) bool visible pixels of object ``instance``."""
        return self.instance_map == instance


def render_scene(rng: np.random.Generator, config: SynthConfig) -> Scene:
    """Sample and render one scene from ``rng``."""
    width, height = _sample_size(rng, config)
    image = make_background(rng, width, height, clutter_p=config.clutter_p)  # (H, W, 3) float
    objects = _sample_objects(rng, config, width, height)
    order = [int(i) for i in rng.permutation(len(objects))]
    instance_map = np.full((height, width), -1, dtype=np.int16)
    region_map = np.zeros((height, width), dtype=np.uint8)
    full_areas = [0] * len(objects)
    for k in order:
        full_areas[k] = _draw_object(objects[k], k, image, instance_map, region_map, rng, config)
    pixels = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    if config.blur_radius > 0:
        pixels = pixels.filter(ImageFilter.GaussianBlur(config.blur_radius))
    noisy = np.asarray(pixels, dtype=np.float32) + rng.normal(0, config.noise_sigma, size=(height, width, 3))
    return Scene(image=np.clip(noisy, 0, 255).astype(np.uint8), instance_map=instance_map,
                 region_map=region_map, objects=objects, draw_order=order, full_areas=full_areas)


def _sample_size(rng: np.random.Generator, config: SynthConfig) -> tuple[int, int]:
    lo, hi = config.side_range
    while True:
        width, height = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        if max(width, height) / min(width, height) <= config.max_aspect:
            return width, height


def _sample_objects(rng: np.random.Generator, config: SynthConfig, width: int,
                    height: int) -> list[PlacedObject]:
    names = list(config.categories or CATEGORIES)
    p = np.asarray(config.objects_per_scene_p, dtype=np.float64)
    count = int(rng.choice(len(p), p=p / p.sum())) + 1
    short = min(width, height)
    placed: list[PlacedObject] = []
    boxes: list[tuple[float, float, float, float]] = []
    for j in range(count):
        ref, variation = None, ""
        if placed and rng.random() < config.same_category_p:
            ref = placed[int(rng.integers(len(placed)))]
            category, variation = ref.category, str(rng.choice(VARIATIONS))
        else:
            unused = [c for c in names if c not in {o.category for o in placed}] or names
            category = str(rng.choice(unused))
        cat = CATEGORIES[category]
        regions = normalize(cat.build(rng))
        if ref is None:
            color = str(rng.choice(COLOR_NAMES))
        else:
            color = other_color(ref.color, rng) if variation == "color" else ref.color
        region_colors = {r: color if r == cat.main or rng.random() >= config.part_color_differs_p
                         else other_color(color, rng) for r in regions}
        lo, hi = config.main_span if j == 0 else config.other_span
        span = rng.uniform(lo, hi) * short * cat.span_scale
        if variation == "size":
            span = float(np.clip(ref.span * rng.choice([0.6, 1.55]), 0.22 * short, 0.8 * short))
        angle = rng.uniform(-config.rotation_deg, config.rotation_deg)
        stretch = 1.0 + rng.uniform(-config.aspect_jitter, config.aspect_jitter)
        flip = bool(cat.flippable and rng.random() < 0.5)
        for attempt in range(40):
            if attempt and attempt % 8 == 0:
                span *= 0.9
            local = apply(regions, affine(span=span, angle_deg=angle, stretch=stretch, flip=flip),
                          np.zeros(2))
            x0, y0, x1, y1 = bounds(local)
            if x1 - x0 > width - 4 or y1 - y0 > height - 4:
                span *= 0.9
                continue
            dx = rng.uniform(2 - x0, width - 2 - x1)
            dy = rng.uniform(2 - y0, height - 2 - y1)
            box = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
            if all(_overlap(box, b) <= config.max_overlap for b in boxes):
                boxes.append(box)
                offset = np.array([dx, dy])
                placed.append(
                    PlacedObject(
                        category=category,
                        color=color,
                        region_colors=region_colors,
                        regions={r: [p + offset for p in polys] for r, polys in local.items()},
                        span=span,
                        angle=angle,
                        variation=variation,
                    )
                )
                break
    return placed


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection area of two (x0, y0, x1, y1) boxes over the smaller box's area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller


def _draw_object(obj: PlacedObject, instance: int, image: np.ndarray, instance_map: np.ndarray,
                 region_map: np.ndarray, rng: np.random.Generator, config: SynthConfig) -> int:
    """Paint ``obj`` over ``image`` (H, W, 3) and the label maps in place; return its pixel count."""
    height, width = instance_map.shape
    bx0, by0, bx1, by1 = bounds(obj.regions)
    x0, y0 = max(0, math.floor(bx0) - 1), max(0, math.floor(by0) - 1)
    x1, y1 = min(width, math.ceil(bx1) + 2), min(height, math.ceil(by1) + 2)
    label_image = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(label_image)
    for r, polys in enumerate(obj.regions.values(), start=1):
        for poly in polys:
            draw.polygon([(float(x) - x0, float(y) - y0) for x, y in poly], fill=r)
    labels = np.asarray(label_image)  # (h, w) uint8
    inside = labels > 0
    colors = np.zeros((len(obj.regions) + 1, 3), dtype=np.float32)
    for r, name in enumerate(obj.regions, start=1):
        colors[r] = jittered_rgb(obj.region_colors[name], rng)
    paint = colors[labels]  # (h, w, 3)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    light = rng.uniform(0, 2 * np.pi)
    along = ((xs - cx) * math.cos(light) + (ys - cy) * math.sin(light)) / obj.span  # (h, w), ~[-0.7, 0.7]
    paint *= (1.0 + rng.uniform(0.2, 0.45) * along)[..., None]
    for r in range(1, len(obj.regions) + 1):
        if rng.random() < config.pattern_p:
            a, period = rng.uniform(0, np.pi), rng.uniform(0.05, 0.12) * obj.span
            stripes = np.sign(np.sin(2 * np.pi * (xs * math.cos(a) + ys * math.sin(a)) / period))
            sel = labels == r
            paint[sel] *= (1.0 + 0.1 * stripes[sel])[:, None]
    paint[_edges(labels)] *= 0.55
    region = image[y0:y1, x0:x1]
    region[inside] = np.clip(paint[inside], 0, 255)
    instance_map[y0:y1, x0:x1][inside] = instance
    region_map[y0:y1, x0:x1][inside] = labels[inside]
    return int(inside.sum())


def _edges(labels: np.ndarray) -> np.ndarray:
    """(h, w) bool: object pixels with a 4-neighbour of another label (part borders and outline)."""
    padded = np.pad(labels, 1)
    centre = padded[1:-1, 1:-1]
    edge = ((centre != padded[:-2, 1:-1]) | (centre != padded[2:, 1:-1])
            | (centre != padded[1:-1, :-2]) | (centre != padded[1:-1, 2:]))
    return edge & (centre > 0)


def describe(scene: Scene, config: SynthConfig) -> list[dict]:
    """Scene-graph entries, one per object: names, colours, visible geometry, ranks, refexp, emitted parts."""
    width, height = scene.size
    n = len(scene.objects)
    codes = (scene.instance_map.astype(np.int32) + 1) * 256 + scene.region_map
    counts = np.bincount(codes.ravel(), minlength=(n + 1) * 256)
    min_part_area = config.min_part_area_fraction * width * height
    entries, referents = [], []
    for k, obj in enumerate(scene.objects):
        ys, xs = np.nonzero(scene.instance_map == k)
        if len(xs):
            bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        else:
            bbox = [0, 0, 0, 0]
        center = (bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2)
        area = int(len(xs))
        part_areas = {p: int(counts[(k + 1) * 256 + scene.region_index(k, p)])
                      for p in CATEGORIES[obj.category].parts}
        referents.append(Referent(category=obj.category, color=obj.color, center=center,
                                  area=scene.full_areas[k]))
        entries.append(
            {
                "instance": k,
                "category": obj.category,
                "color": obj.color,
                "part_colors": obj.part_colors,
                "bbox": bbox,
                "center": [round(center[0], 1), round(center[1], 1)],
                "area": area,
                "full_area": scene.full_areas[k],
                "visible_fraction": round(area / max(1, scene.full_areas[k]), 3),
                "part_areas": part_areas,
                "z": scene.draw_order.index(k),
                "variation": obj.variation,
                "rotation": round(float(obj.angle), 1),
                "_big_parts": [p for p, a in part_areas.items() if a >= min_part_area],
            }
        )
    rank_keys = {
        "size_rank": lambda e: (-e["full_area"], e["instance"]),  # 0 = biggest
        "x_order": lambda e: (e["center"][0], e["instance"]),  # 0 = leftmost
        "y_order": lambda e: (e["center"][1], e["instance"]),  # 0 = topmost
    }
    for name, key in rank_keys.items():
        for rank, e in enumerate(sorted(entries, key=key)):
            e[name] = rank
    for k, e in enumerate(entries):
        phrase, kind = refer(referents, k, width=width, height=height,
                             position_margin=config.position_margin, size_ratio=config.size_ratio)
        visible_enough = e["visible_fraction"] >= config.min_visible_fraction
        e["refexp"], e["refexp_kind"] = phrase, kind
        e["emitted_parts"] = e.pop("_big_parts") if phrase and visible_enough else []
    return entries
