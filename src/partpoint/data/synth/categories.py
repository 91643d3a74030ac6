"""The twelve SynthParts object categories, each drawn from random proportions as named regions.

A builder returns ``{region: [polygons]}`` in back-to-front order in the object's own frame
(x right, y down, any scale: :func:`shapes.normalize` fixes it). ``parts`` are the regions that
get masks and instructions; a region starting with ``_`` (e.g. a shirt's torso) is drawn and
coloured but never named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .shapes import Polygon, arc, ellipse, rect, ring, segment, trapezoid

Regions = dict[str, list[Polygon]]


@dataclass(frozen=True, kw_only=True)
class Category:
    """An object category: its named parts, the region whose colour names the object, its builder."""

    name: str
    parts: tuple[str, ...]
    main: str  # region whose colour is the object's colour
    build: Callable[[np.random.Generator], Regions]
    flippable: bool = True  # may be mirrored left-right
    span_scale: float = 1.0  # multiplies the sampled span (flat objects are drawn a bit larger)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.build(np.random.default_rng(0)))


def _mug(rng: np.random.Generator) -> Regions:
    w, h = rng.uniform(0.55, 0.7), rng.uniform(0.7, 0.85)
    t = rng.uniform(0.1, 0.13)
    rx, ry = rng.uniform(0.22, 0.27), rng.uniform(0.24, 0.3)
    cy = rng.uniform(-0.04, 0.06)
    return {
        "handle": [arc(w / 2 - 0.06, cy, outer=(rx, ry), inner=(rx - t, ry - t), start=-105, end=105)],
        "body": [trapezoid(0, -h / 2, h / 2, w, w * rng.uniform(0.85, 1.0))],
        "rim": [ellipse(0, -h / 2, w / 2, rng.uniform(0.08, 0.11))],
    }


def _knife(rng: np.random.Generator) -> Regions:
    lh, th, tb = rng.uniform(0.36, 0.44), rng.uniform(0.15, 0.19), rng.uniform(0.19, 0.24)
    x0 = -0.5 + lh - 0.03
    blade = np.array([[x0, -tb / 2], [0.42, -tb / 2], [0.5, -tb * 0.3], [0.3, tb * 0.38], [x0, tb / 2]])
    handle = [rect(-0.5 + lh / 2 + 0.02, 0, lh - 0.04, th), ellipse(-0.48, 0, 0.04, th / 2)]
    return {"blade": [blade], "handle": handle}


def _hammer(rng: np.random.Generator) -> Regions:
    wh, hw, hh = rng.uniform(0.12, 0.15), rng.uniform(0.55, 0.68), rng.uniform(0.19, 0.24)
    claw = np.array([[hw / 2 - 0.02, -0.5], [hw / 2 + 0.12, -0.47], [hw / 2 - 0.02, -0.5 + hh]])
    return {"handle": [rect(0, 0.08, wh, 0.84)], "head": [rect(0, -0.5 + hh / 2, hw, hh), claw]}


def _bottle(rng: np.random.Generator) -> Regions:
    bw, neck_top = rng.uniform(0.4, 0.52), rng.uniform(-0.36, -0.3)
    cw, ch = rng.uniform(0.3, 0.36), rng.uniform(0.15, 0.19)
    lh, ly = rng.uniform(0.2, 0.25), rng.uniform(0.18, 0.28)
    return {
        "body": [rect(0, 0.24, bw, 0.48), ellipse(0, 0.46, bw / 2, 0.04)],
        "neck": [trapezoid(0, neck_top, 0.02, cw * 0.8, bw)],
        "cap": [rect(0, neck_top - ch / 2 + 0.01, cw, ch)],
        "label": [rect(0, ly, bw, lh)],
    }


def _scissors(rng: np.random.Generator) -> Regions:
    o = (rng.uniform(0.15, 0.18), rng.uniform(0.12, 0.14))
    t = rng.uniform(0.07, 0.09)
    spread, width = rng.uniform(0.13, 0.18), rng.uniform(0.18, 0.22)
    handles = ring(-0.33, -spread, outer=o, inner=(o[0] - t, o[1] - t)) + ring(-0.33, spread, outer=o,
                                                                               inner=(o[0] - t, o[1] - t))
    handles += [segment(-0.2, -spread, -0.05, 0, t * 1.1), segment(-0.2, spread, -0.05, 0, t * 1.1)]

    def blade(sign: float) -> Polygon:
        return np.array([[-0.08, sign * width / 2], [0.5, -sign * 0.07], [0.5, sign * 0.01],
                         [-0.08, -sign * width / 2]])

    return {"handles": handles, "blades": [blade(1.0), blade(-1.0)]}


def _shirt(rng: np.random.Generator) -> Regions:
    w, top = rng.uniform(0.56, 0.66), -0.32
    sl, sd = rng.uniform(0.28, 0.34), rng.uniform(0.3, 0.36)  # sleeve length, depth at the shoulder

    def sleeve(sign: float) -> Polygon:
        x = sign * w / 2
        return np.array([[x - sign * 0.04, top], [x + sign * sl, top + 0.12],
                         [x + sign * (sl - 0.08), top + 0.12 + sd], [x, top + sd]])

    hem = rng.uniform(0.13, 0.16)
    cx, cy = rng.uniform(0.24, 0.28), rng.uniform(0.2, 0.24)
    return {
        "left sleeve": [sleeve(-1.0)],
        "right sleeve": [sleeve(1.0)],
        "_torso": [rect(0, (top + 0.5) / 2, w, 0.5 - top)],
        "hem": [rect(0, 0.5 - hem / 2, w, hem)],
        "collar": [arc(0, top, outer=(cx, cy), inner=(cx - 0.12, cy - 0.12), start=0, end=180)],
    }


def _chair(rng: np.random.Generator) -> Regions:
    bw, bh = rng.uniform(0.5, 0.62), rng.uniform(0.38, 0.46)
    sw, lw = rng.uniform(0.66, 0.76), rng.uniform(0.1, 0.12)
    seat_top = -0.5 + bh
    legs = [rect(s * (sw / 2 - lw / 2 - 0.02), (seat_top + 0.1 + 0.5) / 2, lw,
                 0.5 - seat_top - 0.1) for s in (-1, 1)]
    if rng.random() < 0.5:  # back legs, a little shorter and inward
        legs += [rect(s * (sw / 2 - lw - 0.08), (seat_top + 0.44) / 2, lw * 0.8,
                      0.44 - seat_top) for s in (-1, 1)]
    return {"legs": legs, "backrest": [rect(0, -0.5 + bh / 2, bw, bh + 0.02)],
            "seat": [trapezoid(0, seat_top, seat_top + 0.12, sw * 0.88, sw)]}


def _pan(rng: np.random.Generator) -> Regions:
    rx, ry = rng.uniform(0.27, 0.32), rng.uniform(0.22, 0.28)
    hh, tilt = rng.uniform(0.13, 0.16), rng.uniform(-0.06, 0.02)
    return {"handle": [segment(-0.2 + rx - 0.06, 0, 0.5, tilt, hh), ellipse(0.5, tilt, hh / 2, hh / 2)],
            "body": [ellipse(-0.2, 0, rx, ry)]}


def _lamp(rng: np.random.Generator) -> Regions:
    tw, bw, sh = rng.uniform(0.3, 0.4), rng.uniform(0.62, 0.76), rng.uniform(0.32, 0.38)
    stw, bh = rng.uniform(0.11, 0.14), rng.uniform(0.13, 0.16)
    return {
        "stand": [rect(0, (-0.5 + sh + 0.5 - bh) / 2, stw, 0.5 - bh - (-0.5 + sh) + 0.04)],
        "shade": [trapezoid(0, -0.5, -0.5 + sh, tw, bw)],
        "base": [trapezoid(0, 0.5 - bh, 0.5, rng.uniform(0.3, 0.4), rng.uniform(0.46, 0.56))],
    }


def _wine_glass(rng: np.random.Generator) -> Regions:
    rx, depth = rng.uniform(0.28, 0.33), rng.uniform(0.2, 0.26)
    stw, bh = rng.uniform(0.13, 0.16), rng.uniform(0.13, 0.16)
    bowl_mid = -0.5 + rng.uniform(0.16, 0.2)
    return {
        "stem": [rect(0, (bowl_mid + depth - 0.04 + 0.5 - bh / 2) / 2, stw,
                      0.5 - bh / 2 - bowl_mid - depth + 0.04)],
        "bowl": [rect(0, (-0.5 + bowl_mid) / 2, 2 * rx, bowl_mid + 0.5),
                 ellipse(0, bowl_mid, rx, depth, start=0, end=180)],
        "base": [ellipse(0, 0.5 - bh / 2, rng.uniform(0.24, 0.3), bh / 2)],
    }


def _kettle(rng: np.random.Generator) -> Regions:
    tw, bw = rng.uniform(0.42, 0.52), rng.uniform(0.62, 0.72)
    top = -0.2
    sw = rng.uniform(0.15, 0.18)
    hx, hy = rng.uniform(0.2, 0.25), rng.uniform(0.22, 0.27)
    lw = rng.uniform(0.24, 0.28)
    return {
        "handle": [arc(-bw / 2 + 0.08, 0.1, outer=(hx, hy), inner=(hx - 0.13, hy - 0.13), start=75, end=285)],
        "spout": [segment(bw / 2 - 0.12, 0.22, bw / 2 + 0.18, -0.12, sw),
                  ellipse(bw / 2 + 0.18, -0.12, sw / 2, sw / 2)],
        "body": [trapezoid(0, top, 0.5, tw, bw)],
        "lid": [ellipse(0, top + 0.01, lw, rng.uniform(0.13, 0.16), start=180, end=360),
                ellipse(0, top - 0.13, 0.08, 0.07)],
    }


def _car(rng: np.random.Generator) -> Regions:
    bh, ct = rng.uniform(0.24, 0.3), rng.uniform(-0.3, -0.26)
    cw_top, cw_bot, cx = rng.uniform(0.4, 0.5), rng.uniform(0.66, 0.74), rng.uniform(-0.1, -0.04)
    wr, hx = rng.uniform(0.12, 0.14), rng.uniform(0.13, 0.15)
    base = -0.06
    inset = 0.04
    win_top, win_bot = ct + inset, base - 0.015
    mid = cx
    front = np.array([[mid + 0.02, win_top], [cx + cw_top / 2 - 0.01, win_top],
                      [cx + cw_bot / 2 - 0.07, win_bot], [mid + 0.02, win_bot]])
    rear = np.array([[cx - cw_top / 2 + 0.01, win_top], [mid - 0.02, win_top], [mid - 0.02, win_bot],
                     [cx - cw_bot / 2 + 0.07, win_bot]])
    return {
        "body": [rect(0, base + bh / 2, 1.0, bh), trapezoid(cx, ct, base + 0.01, cw_top, cw_bot)],
        "windows": [front, rear],
        "headlight": [ellipse(0.5 - hx * 0.8, base + 0.07, hx, rng.uniform(0.085, 0.1))],
        "wheels": [ellipse(s * 0.3, base + bh, wr, wr) for s in (-1, 1)],
    }


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category(name="mug", parts=("body", "handle", "rim"), main="body", build=_mug),
        Category(name="knife", parts=("blade", "handle"), main="handle", build=_knife, span_scale=1.1),
        Category(name="hammer", parts=("head", "handle"), main="handle", build=_hammer),
        Category(name="bottle", parts=("cap", "neck", "body", "label"), main="body", build=_bottle),
        Category(name="scissors", parts=("blades", "handles"), main="handles", build=_scissors,
                 span_scale=1.15),
        Category(name="shirt", parts=("collar", "left sleeve", "right sleeve", "hem"), main="_torso",
                 build=_shirt, flippable=False, span_scale=1.15),
        Category(name="chair", parts=("seat", "backrest", "legs"), main="seat", build=_chair),
        Category(name="pan", parts=("body", "handle"), main="body", build=_pan, span_scale=1.1),
        Category(name="lamp", parts=("shade", "stand", "base"), main="shade", build=_lamp),
        Category(name="wine glass", parts=("bowl", "stem", "base"), main="bowl", build=_wine_glass),
        Category(name="kettle", parts=("body", "spout", "handle", "lid"), main="body", build=_kettle),
        Category(name="car", parts=("body", "wheels", "windows", "headlight"), main="body", build=_car,
                 span_scale=1.2),
    )
}
