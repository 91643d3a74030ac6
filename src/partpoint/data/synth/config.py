"""Generation parameters of SynthParts, one frozen dataclass so later work can tune them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ...errors import DataError


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """Every knob of the SynthParts generator; the defaults target ~224 px, 16x16-patch backbones.

    Sizes are fractions of the image's short side; areas are fractions of the image area, so a
    threshold means the same number of patches whatever the image is resized to.
    """

    side_range: tuple[int, int] = (256, 640)  # each image side is drawn from this range (pixels)
    max_aspect: float = 1.6  # long side / short side at most
    objects_per_scene_p: tuple[float, ...] = (0.35, 0.35, 0.2, 0.1)  # P(1 object), P(2), ...
    main_span: tuple[float, float] = (0.4, 0.7)  # first object's longest extent / short side
    other_span: tuple[float, float] = (0.28, 0.5)  # the other objects' extent / short side
    rotation_deg: float = 30.0  # uniform in +-rotation_deg
    aspect_jitter: float = 0.15  # x stretched by a factor in [1 - j, 1 + j]
    same_category_p: float = 0.4  # P(an extra object repeats an earlier category as a distractor)
    max_overlap: float = 0.25  # max bbox intersection / smaller bbox area between two objects
    part_color_differs_p: float = 0.75  # P(a secondary part gets a colour unlike the main part's)
    pattern_p: float = 0.2  # P(a part gets a faint stripe texture)
    clutter_p: float = 0.45  # P(the background is cluttered with random shapes)
    min_part_patches: float = 2.0  # a part is emitted when its visible area >= this many patches
    patch_grid: int = 16  # patches per side of the reference backbone input (224 px / 14 px)
    min_visible_fraction: float = 0.5  # an instance is emitted when this much of it is visible
    position_margin: float = 0.08  # left/right/top/bottom need this gap (fraction of the side)
    size_ratio: float = 1.35  # bigger/smaller need this area ratio
    blur_radius: float = 0.6  # light blur of the final image (masks stay exact)
    noise_sigma: float = 3.0  # per-pixel sensor noise (0-255 scale)
    jpeg_quality: int = 92
    categories: tuple[str, ...] = ()  # empty: all categories

    @property
    def min_part_area_fraction(self) -> float:
        """Smallest emitted part area as a fraction of the image area."""
        return self.min_part_patches / self.patch_grid**2

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> SynthConfig:
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise DataError(f"unknown SynthConfig field(s) {unknown}; use only {sorted(names)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    @classmethod
    def from_file(cls, path: str) -> SynthConfig:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"cannot read SynthConfig JSON {path!r} ({e}); pass a JSON object of "
                            "fields") from e
        if not isinstance(data, dict):
            raise DataError(f"SynthConfig file {path!r} must hold a JSON object of fields")
        return cls.from_json(data)
