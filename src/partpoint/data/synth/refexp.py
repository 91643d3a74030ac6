"""Referring expressions that single out one instance among the objects of its category."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Referent:
    """What a referring expression may use about one object (pixels, whole image)."""

    category: str
    color: str
    center: tuple[float, float]  # (x, y) of the visible bbox centre
    area: float  # unoccluded area, the apparent size


def _extreme(values: list[float], i: int, *, largest: bool, margin: float) -> bool:
    """Whether ``values[i]`` is the unique extreme, ahead of every other value by ``margin``."""
    others = [v for j, v in enumerate(values) if j != i]
    if largest:
        return all(values[i] - v >= margin for v in others)
    return all(v - values[i] >= margin for v in others)


def refer(referents: list[Referent], i: int, *, width: int, height: int, position_margin: float,
          size_ratio: float) -> tuple[str | None, str]:
    """``(phrase, kind)`` naming ``referents[i]`` uniquely, e.g. ``("the red mug", "color")``.

    Order of preference: category alone, colour, left/right-most, top/bottom-most, bigger/smaller.
    Returns ``(None, "ambiguous")`` when nothing is unique.
    """
    me = referents[i]
    members = [j for j, r in enumerate(referents) if r.category == me.category]
    group, k = [referents[j] for j in members], members.index(i)
    name = me.category
    if len(group) == 1:
        return f"the {name}", "category"
    if sum(r.color == me.color for r in group) == 1:
        return f"the {me.color} {name}", "color"
    two = len(group) == 2
    xs = [r.center[0] for r in group]
    ys = [r.center[1] for r in group]
    if _extreme(xs, k, largest=False, margin=position_margin * width):
        return (f"the {name} on the left" if two else f"the leftmost {name}"), "left"
    if _extreme(xs, k, largest=True, margin=position_margin * width):
        return (f"the {name} on the right" if two else f"the rightmost {name}"), "right"
    if _extreme(ys, k, largest=False, margin=position_margin * height):
        return (f"the upper {name}" if two else f"the topmost {name}"), "top"
    if _extreme(ys, k, largest=True, margin=position_margin * height):
        return (f"the lower {name}" if two else f"the lowest {name}"), "bottom"
    areas = [r.area for r in group]
    if all(me.area >= size_ratio * a for j, a in enumerate(areas) if j != k):
        return (f"the bigger {name}" if two else f"the biggest {name}"), "bigger"
    if all(a >= size_ratio * me.area for j, a in enumerate(areas) if j != k):
        return (f"the smaller {name}" if two else f"the smallest {name}"), "smaller"
    return None, "ambiguous"
