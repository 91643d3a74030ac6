"""Baselines: answer parsers on real-looking strings, frame mapping, attention/centre/random pointing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from partpoint.baselines import (
    attention_point,
    centre_point,
    family_of,
    parse_point,
    pointing_prompt,
    random_point,
    text_point,
    to_image_point,
)
from partpoint.baselines.text import IMAGE_PERCENT, INPUT_PER_MILLE, INPUT_PX, INPUT_UNIT, ParsedPoint

MOLMO = [
    ('<point x="61.5" y="40.4" alt="handle of the mug">handle of the mug</point>', (61.5, 40.4)),
    (' <points x1="10.0" y1="20.5" x2="30.0" y2="40.0" alt="cuffs">cuffs</points>', (10.0, 20.5)),
    ('The handle is here: <point x="7" y="93.2" alt="handle">handle</point>.', (7.0, 93.2)),
    ('<point x="150.0" y="40.0" alt="bad">bad</point>', None),  # outside 0-100
    ("There are none.", None),
    ("", None),
]
QWEN25 = [
    ('```json\n[\n\t{"point_2d": [412, 198], "label": "handle"}\n]\n```', (412.0, 198.0)),
    ('[{"point_2d": [35, 660], "label": "blade"}, {"point_2d": [1, 2]}]', (35.0, 660.0)),
    ('```json\n[\n\t{"point_2d": [120, 88], "label": "the sp', (120.0, 88.0)),  # truncated
    ('```json\n[{"bbox_2d": [100, 200, 140, 260], "label": "lid"}]\n```', (120.0, 230.0)),
    ("[512, 300]", (512.0, 300.0)),
    ('```json\n[{"label": "handle"}]\n```', None),
    ("I cannot see a handle in this image.", None),
]
QWEN2 = [
    ("(523,287)", (523.0, 287.0)),
    (
        "<|object_ref_start|>handle<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>",
        (200.0, 300.0),
    ),
    ("The point is (1500, 20).", None),  # outside 0-1000
    ("no idea", None),
]
GENERIC = [
    ("(0.42, 0.71)", (0.42, 0.71), INPUT_UNIT),
    ("The handle is at [0.1,0.9].", (0.1, 0.9), INPUT_UNIT),
    ("(130, 45)", (130.0, 45.0), INPUT_PX),
    ("handle: x=0.3 y=0.2", None, None),
    ("(-0.2, 0.5)", None, None),
]


@pytest.mark.parametrize("text,expected", MOLMO)
def test_parse_molmo(text, expected):
    parsed = parse_point(text, "molmo")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, IMAGE_PERCENT))


@pytest.mark.parametrize("text,expected", QWEN25)
def test_parse_qwen2_5(text, expected):
    parsed = parse_point(text, "qwen2_5_vl")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, INPUT_PX))


@pytest.mark.parametrize("text,expected", QWEN2)
def test_parse_qwen2(text, expected):
    parsed = parse_point(text, "qwen2_vl")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, INPUT_PER_MILLE))


@pytest.mark.parametrize("text,expected,frame", GENERIC)
def test_parse_generic(text, expected, frame):
    parsed = parse_point(text, "llava")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, frame))


def test_families_and_prompts():
    assert [family_of(a) for a in ("molmo", "qwen2_5_vl", "qwen2_vl", "llava", "idefics3")] == [
        "molmo",
        "qwen2_5_vl",
        "qwen2_vl",
        "generic",
        "generic",
    ]
    assert "point_2d" in pointing_prompt("Where do I hold the mug?", "qwen2_5_vl")
    assert pointing_prompt("  Point to the lid. ", "molmo").startswith("Point to the lid.\n")
    assert parse_point(None, "molmo") is None


def geometry():
    """A 200 x 100 image resized to a 112 x 56 input, 14-px cells: grid 4 x 8; x = 25 u, y = 25 v."""
    return SimpleNamespace(
        image_size=(200, 100),
        geometry=SimpleNamespace(input_size=(112, 56), cell_px=14),
        to_image_xy=lambda u, v: (25.0 * u, 25.0 * v),
    )


@pytest.mark.parametrize(
    "parsed,expected",
    [
        (ParsedPoint(50.0, 25.0, IMAGE_PERCENT), (100.0, 25.0)),
        (ParsedPoint(56.0, 14.0, INPUT_PX), (100.0, 25.0)),
        (ParsedPoint(500.0, 250.0, INPUT_PER_MILLE), (100.0, 25.0)),
        (ParsedPoint(0.5, 0.25, INPUT_UNIT), (100.0, 25.0)),
    ],
)
def test_frames_map_to_original_pixels(parsed, expected):
    assert to_image_point(parsed, geometry()) == pytest.approx(expected)


def test_text_point_end_to_end_and_miss():
    answers = iter(['<point x="25" y="50" alt="x">x</point>', "Sorry, I can't."])
    prompts = []

    def generate(image, prompt, max_new_tokens):
        prompts.append(prompt)
        return next(answers), geometry()

    backbone = SimpleNamespace(arch="molmo", generate=generate)
    hit = text_point(backbone, None, "Point to the lid.")
    assert (hit.x, hit.y, hit.width, hit.height) == (50.0, 50.0, 200, 100)
    assert text_point(backbone, None, "Point to the lid.") is None
    assert prompts[0].startswith("Point to the lid.")


def attention_features(attn, mass, grid):
    return SimpleNamespace(
        layers={4: SimpleNamespace(attn_last=torch.tensor(attn), attn_last_mass=torch.tensor(mass))},
        grid=grid,
        image_size=(200, 100),
        to_image_xy=lambda u, v: (25.0 * u, 25.0 * v),
    )


def test_attention_point_finds_smoothed_peak():
    grid = (4, 8)
    attn = np.full((2, 32), 0.01)
    attn[0, 1 * 8 + 5] = attn[1, 1 * 8 + 6] = 1.0  # two heads, neighbouring peaks
    attn[0, 3 * 8 + 0] = 0.9  # an isolated spike in head 0 only
    attn /= attn.sum(-1, keepdims=True)
    features = attention_features(attn, [0.5, 0.5], grid)
    for combine in ("sum", "mean"):
        result = attention_point(features, [(4, 0), (4, 1)], sigma=1.0, combine=combine)
        assert (result.y, result.heatmap.shape) == (1.5 * 25, grid)
        assert result.x in (5.5 * 25, 6.5 * 25)
        assert result.heatmap.sum() == pytest.approx(1.0)
    unsmoothed = attention_point(features, [(4, 0)], sigma=0.0)
    assert (unsmoothed.x, unsmoothed.y) == (5.5 * 25, 1.5 * 25)


def test_reference_attention_sums_raw_maps_and_reflects_at_borders():
    grid = (5, 5)
    attn = np.full((2, 25), 0.01)
    attn[0, 2 * 5 + 2] = 1.0  # head 0: peak at the centre
    attn[1, 0] = 1.0  # head 1: peak in the corner
    attn /= attn.sum(-1, keepdims=True)
    # head 1 holds 4x the raw mass: the sum of raw maps follows it; the mean of renormalised maps weighs both alike
    features = attention_features(attn, [0.1, 0.4], grid)
    reference = attention_point(features, [(4, 0), (4, 1)], sigma=1.0)
    assert (reference.x, reference.y) == (0.5 * 25, 0.5 * 25)  # reflect padding keeps the corner peak
    corner_only = attention_features(attn[[1]], [0.4], grid)
    zero_padded = attention_point(corner_only, [(4, 0)], sigma=1.0, combine="mean")
    reflected = attention_point(corner_only, [(4, 0)], sigma=1.0, combine="sum")
    assert reflected.heatmap[0, 0] > zero_padded.heatmap[0, 0]  # zero padding loses mass at the border
    from scipy.ndimage import gaussian_filter

    expected = gaussian_filter((attn * np.array([[0.1], [0.4]])).sum(0).reshape(grid), 1.0, mode="reflect")
    np.testing.assert_allclose(reference.heatmap, expected / expected.sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="combine"):
        attention_point(features, [(4, 0)], combine="max")


def test_centre_and_seeded_random():
    centre = centre_point(200, 100)
    assert (centre.x, centre.y) == (100.0, 50.0)
    first, again = random_point(200, 100, rng=7), random_point(200, 100, rng=7)
    assert (first.x, first.y) == (again.x, again.y)
    stream = np.random.default_rng(0)
    points = [random_point(200, 100, rng=stream) for _ in range(200)]
    xs, ys = np.array([p.x for p in points]), np.array([p.y for p in points])
    assert (
        len(set(xs)) == 200 and (0 <= xs).all() and (xs < 200).all() and (0 <= ys).all() and (ys < 100).all()
    )
    assert 80 < xs.mean() < 120


@pytest.mark.parametrize("family, arch", [("molmo", "molmo"), ("qwen2_5_vl", "qwen2_5_vl"), ("qwen2_vl", "qwen2_vl"),
                                          ("generic", "llava")])
def test_minimal_answers_parse_and_count_tokens(family, arch):
    from partpoint.baselines import MINIMAL_ANSWERS, minimal_answer_tokens

    assert parse_point(MINIMAL_ANSWERS[family], arch) is not None  # each is a well-formed answer of its family
    tokenizer = lambda text, add_special_tokens: {"input_ids": text.split(" ")}  # noqa: E731
    backbone = SimpleNamespace(arch=arch, processor=SimpleNamespace(tokenizer=tokenizer))
    assert minimal_answer_tokens(backbone) == len(MINIMAL_ANSWERS[family].split(" "))
