"""Baselines: answer parsers on real-looking strings, frame mapping, attention/centre/random pointing."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partpoint.backbones.backbone import Generation
from partpoint.backbones.geometry import GridGeometry
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
from partpoint.baselines.text import (
    IMAGE_PERCENT,
    INPUT_PER_MILLE,
    INPUT_PX,
    INPUT_UNIT,
    PAD_SQUARE_UNIT,
    UNIT_FRAMES,
    ParsedPoint,
    parse_points,
)

MOLMO = [
    ('<point x="61.5" y="40.4" alt="handle of the mug">handle of the mug</point>', (61.5, 40.4)),
    (' <points x1="10.0" y1="20.5" x2="30.0" y2="40.0" alt="cuffs">cuffs</points>', (10.0, 20.5)),
    ('The handle is here: <point x="7" y="93.2" alt="handle">handle</point>.', (7.0, 93.2)),
    ("Click(61.5, 40.2)", (61.5, 40.2)),
    ("The lid is at (61.5, 40.2).", (61.5, 40.2)),
    ("(61.5 40.2)", (61.5, 40.2)),
    ('Click(12.0, 30.0) then <point x="50" y="50" alt="b">b</point>', (12.0, 30.0)),  # text order
    ('<point x="150.0" y="40.0" alt="bad">bad</point>', None),  # outside 0-100
    ("There are none.", None),
    ("", None),
]
QWEN25 = [
    ('```json\n[\n\t{"point_2d": [412, 198], "label": "handle"}\n]\n```', (412.0, 198.0)),
    ('[{"point_2d": [35, 660], "label": "blade"}, {"point_2d": [1, 2]}]', (35.0, 660.0)),
    ('```json\n[\n\t{"point_2d": [120, 88], "label": "the sp', (120.0, 88.0)),  # truncated
    ('[{"point_2d": [120.5, 88.25]}]', (120.5, 88.25)),  # floats
    ('```json\n[{"bbox_2d": [100, 200, 140, 260], "label": "lid"}]\n```', (120.0, 230.0)),
    ('<points x1="320" y1="240" alt="mug handle">mug handle</points>', (320.0, 240.0)),
    ("<points x='15.5' y='7'>lid</points>", (15.5, 7.0)),
    ("The handle is at x: 320, y: 240.", (320.0, 240.0)),
    ("[512, 300]", (512.0, 300.0)),
    ('```json\n[{"label": "handle"}]\n```', None),
    ("I cannot see a handle in this image.", None),
]
QWEN2 = [
    ("(523,287)", (523.0, 287.0)),
    ("<|object_ref_start|>handle<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>",
     (200.0, 300.0)),
    ("The point is (1500, 20).", None),  # outside 0-1000
    ("no idea", None),
]
QWEN3 = [
    ('[{"point_2d": [500, 250], "label": "handle"}]', (500.0, 250.0)),
    ('{"bbox_2d": [100, 100, 300, 500]}', (200.0, 300.0)),
    ('[{"point_2d": [1200, 250]}]', None),  # outside 0-1000
]
GENERIC = [
    ("(0.42, 0.71)", (0.42, 0.71), INPUT_UNIT),
    ("The handle is at [0.1,0.9].", (0.1, 0.9), INPUT_UNIT),
    ("[0.12, 0.34, 0.56, 0.78]", (0.34, 0.56), INPUT_UNIT),  # LLaVA-1.5 box: its centre
    ("(130, 45)", (130.0, 45.0), INPUT_PX),
    ("handle: x=0.3 y=0.2", (0.3, 0.2), INPUT_UNIT),
    ("(-0.2, 0.5)", None, None),
]


@pytest.mark.parametrize("text,expected", MOLMO)
def test_parse_molmo(text, expected):
    for arch in ("molmo", "molmo2"):
        parsed = parse_point(text, arch)
        assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, IMAGE_PERCENT))


@pytest.mark.parametrize("text,expected", QWEN25)
def test_parse_qwen2_5(text, expected):
    parsed = parse_point(text, "qwen2_5_vl")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, INPUT_PX))


@pytest.mark.parametrize("text,expected", QWEN2)
def test_parse_qwen2(text, expected):
    parsed = parse_point(text, "qwen2_vl")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, INPUT_PER_MILLE))


@pytest.mark.parametrize("text,expected", QWEN3)
def test_parse_qwen3(text, expected):
    parsed = parse_point(text, "qwen3_vl")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, INPUT_PER_MILLE))


@pytest.mark.parametrize("text,expected,frame", GENERIC)
def test_parse_generic(text, expected, frame):
    parsed = parse_point(text, "llava")
    assert (parsed is None) if expected is None else (parsed == ParsedPoint(*expected, frame))


def test_parse_all_points_in_text_order():
    points = parse_points('<points x1="10" y1="20" x2="30" y2="40" x3="50" y3="60">cups</points>', "molmo")
    assert [(p.x, p.y) for p in points] == [(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)]
    mixed = parse_points('first (1.5, 2.5), then Click(3.0, 4.0), then <point x="5" y="6">', "molmo")
    assert [(p.x, p.y) for p in mixed] == [(1.5, 2.5), (3.0, 4.0), (5.0, 6.0)]  # no pair counted twice
    assert parse_point("[0.2, 0.4]", "llava", unit_frame=PAD_SQUARE_UNIT).frame == PAD_SQUARE_UNIT


def test_qwen2_box_survives_generation_decoding():
    """``generate`` strips special tokens for display; the parser reads the raw decode (box intact)."""
    generation = Generation(text="handle(100,200),(300,400)", geometry=geometry(), image_size=SIZE,
                            new_tokens=9,
                            raw_text="handle<|box_start|>(100,200),(300,400)<|box_end|><|im_end|>")
    backbone = SimpleNamespace(arch="qwen2_vl", generate=lambda *a, **k: generation)
    result = text_point(backbone, None, "Point to the handle.")
    assert (result.x,
            result.y) == pytest.approx(to_image_point(ParsedPoint(200.0, 300.0, INPUT_PER_MILLE), geometry(),
                                                      SIZE))
    assert parse_point(generation.text, "qwen2_vl") == ParsedPoint(100.0, 200.0,
                                                                   INPUT_PER_MILLE)  # the old bug


NUMBER = st.one_of(st.integers(-2000, 2000).map(str),
                   st.floats(-5, 1500, allow_nan=False).map(lambda v: f"{v:.3f}"),
                   st.sampled_from(["nan", "inf", "1e999", "9" * 400, ".5", "-0", "+3", "1.", ""]))
PIECES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(['<point ', '<points ', '>', '</point>', 'x="', 'y="', 'x1=', '"', "'", "Click(", "(",
                     ")",
                     "[", "]", ",", '"point_2d": [', '"bbox_2d": [', "<|box_start|>", "<|box_end|>", "x: ",
                     "y: ",
                     "```json", "{", "}", " ", "\n"]),
    NUMBER,
)
ARCHS = ["molmo", "molmo2", "qwen2_5_vl", "qwen3_vl", "qwen2_vl", "llava", "paligemma", "", None]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=40).map("".join), st.sampled_from(ARCHS), st.sampled_from(UNIT_FRAMES))
def test_parsers_never_raise_on_random_and_adversarial_strings(text, arch, unit_frame):
    points = parse_points(text, arch, unit_frame=unit_frame)
    for point in points:
        assert math.isfinite(point.x) and math.isfinite(point.y) and point.x >= 0 and point.y >= 0
        x, y = to_image_point(point, geometry(), SIZE)
        assert math.isfinite(x) and math.isfinite(y)
    first = parse_point(text, arch, unit_frame=unit_frame)
    assert first == (points[0] if points else None)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 100).map(lambda v: round(v, 1)), st.floats(0, 100).map(lambda v: round(v, 1)),
       st.text(alphabet=st.characters(blacklist_characters="<>()[]=0123456789.,-+xy\"'"), max_size=30))
def test_molmo_point_round_trips_through_any_surrounding_text(x, y, prose):
    parsed = parse_point(f'{prose}<point x="{x}" y="{y}" alt="part">part</point>{prose}', "molmo")
    assert parsed == ParsedPoint(x, y, IMAGE_PERCENT)


def test_parsers_are_linear_on_long_adversarial_input():
    import time

    text = "(" * 20000 + "1," * 20000 + '<point x="1' * 2000 + "x: 1, " * 5000
    start = time.perf_counter()
    for arch in ("molmo", "qwen2_5_vl", "qwen2_vl", "llava"):
        parse_points(text, arch)
    assert time.perf_counter() - start < 10  # no catastrophic backtracking (seconds, not hours)


def test_families_and_prompts():
    assert [family_of(a) for a in ("molmo", "molmo2", "qwen2_5_vl", "qwen3_vl", "qwen2_vl", "llava",
                                   "idefics3")] == ["molmo", "molmo", "qwen2_5_vl", "qwen3_vl", "qwen2_vl",
                                                    "generic", "generic"]
    assert "point_2d" in pointing_prompt("Where do I hold the mug?", "qwen2_5_vl")
    assert pointing_prompt("  Point to the lid. ", "molmo").startswith("Point to the lid.\n")
    assert parse_point(None, "molmo") is None


SIZE = (200, 100)


def geometry():
    """A 200 x 100 image resized to a 112 x 56 input, 14-px cells: grid 4 x 8; x = 25 u, y = 25 v."""
    return GridGeometry(sx=25.0, ox=0.0, sy=25.0, oy=0.0, grid=(4, 8), input_size=(112, 56),
                        cell_px=(14.0, 14.0))


@pytest.mark.parametrize(
    "parsed,expected",
    [
        (ParsedPoint(50.0, 25.0, IMAGE_PERCENT), (100.0, 25.0)),
        (ParsedPoint(56.0, 14.0, INPUT_PX), (100.0, 25.0)),
        (ParsedPoint(500.0, 250.0, INPUT_PER_MILLE), (100.0, 25.0)),
        (ParsedPoint(0.5, 0.25, INPUT_UNIT), (100.0, 25.0)),
        (ParsedPoint(0.5, 0.375, PAD_SQUARE_UNIT), (100.0, 25.0)),  # 200x100 centred on a 200x200 square
    ],
)
def test_frames_map_to_original_pixels(parsed, expected):
    assert to_image_point(parsed, geometry(), SIZE) == pytest.approx(expected)


def test_llava_adapter_names_the_frame_of_normalised_answers():
    from partpoint.backbones.llava import LlavaAdapter

    def processor(crop):
        return SimpleNamespace(image_processor=SimpleNamespace(do_center_crop=crop))

    # LLaVA-1.5 (HF processor crops)
    assert LlavaAdapter().text_unit_frame(processor(True)) == PAD_SQUARE_UNIT
    assert LlavaAdapter().text_unit_frame(processor(False)) == INPUT_UNIT  # default-llava squeezes


def test_text_point_end_to_end_and_miss():
    answers = iter(['<point x="25" y="50" alt="x">x</point>', "Sorry, I can't."])
    prompts = []

    def generate(image, prompt, max_new_tokens):
        prompts.append(prompt)
        return Generation(next(answers), geometry(), SIZE)

    backbone = SimpleNamespace(arch="molmo", generate=generate)
    hit = text_point(backbone, None, "Point to the lid.")
    assert (hit.x, hit.y, hit.width, hit.height) == (50.0, 50.0, 200, 100)
    assert text_point(backbone, None, "Point to the lid.") is None
    assert prompts[0].startswith("Point to the lid.")


def attention_features(attn, mass, grid):
    return SimpleNamespace(
        layers={4: SimpleNamespace(attn_last=torch.tensor(attn), attn_last_mass=torch.tensor(mass))},
        grid=grid,
        geometry=None,
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
    result = attention_point(features, [(4, 0), (4, 1)], sigma=1.0)
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
    # head 1 holds 4x the raw mass: the sum of raw maps follows it (a mean of renormalised maps would not)
    features = attention_features(attn, [0.1, 0.4], grid)
    reference = attention_point(features, [(4, 0), (4, 1)], sigma=1.0)
    assert (reference.x, reference.y) == (0.5 * 25, 0.5 * 25)  # reflect padding keeps the corner peak
    from scipy.ndimage import gaussian_filter

    expected = gaussian_filter((attn * np.array([[0.1], [0.4]])).sum(0).reshape(grid), 1.0, mode="reflect")
    np.testing.assert_allclose(reference.heatmap, expected / expected.sum(), rtol=1e-5)
    zero_padded = gaussian_filter(attn[1].reshape(grid), 1.0, mode="constant")
    corner = attention_point(attention_features(attn[[1]], [0.4], grid), [(4, 0)], sigma=1.0)
    assert corner.heatmap[0, 0] > zero_padded[0, 0] / zero_padded.sum()  # zero padding would lose border mass


def test_centre_and_seeded_random():
    centre = centre_point(200, 100)
    assert (centre.x, centre.y) == (100.0, 50.0)
    first, again = random_point(200, 100, rng=7), random_point(200, 100, rng=7)
    assert (first.x, first.y) == (again.x, again.y)
    stream = np.random.default_rng(0)
    points = [random_point(200, 100, rng=stream) for _ in range(200)]
    xs, ys = np.array([p.x for p in points]), np.array([p.y for p in points])
    assert len(set(xs)) == 200 and (0 <= xs).all() and (xs < 200).all()
    assert (0 <= ys).all() and (ys < 100).all()
    assert 80 < xs.mean() < 120


@pytest.mark.parametrize("family, arch",
                         [("molmo", "molmo"), ("qwen2_5_vl", "qwen2_5_vl"), ("qwen2_vl", "qwen2_vl"),
                                          ("generic", "llava")])
def test_minimal_answers_parse_and_count_tokens(family, arch):
    from partpoint.baselines import MINIMAL_ANSWERS, minimal_answer_tokens

    assert parse_point(MINIMAL_ANSWERS[family],
                       arch) is not None  # each is a well-formed answer of its family
    tokenizer = lambda text, add_special_tokens: {"input_ids": text.split(" ")}  # noqa: E731
    backbone = SimpleNamespace(arch=arch, processor=SimpleNamespace(tokenizer=tokenizer))
    assert minimal_answer_tokens(backbone) == len(MINIMAL_ANSWERS[family].split(" "))
