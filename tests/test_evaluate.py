"""evaluate(): hit / patch definitions, per-category aggregation, every method's plumbing, unparsed
answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from helpers import HEIGHT, WIDTH, box_mask, build_llava, sample, save_pointer
from partpoint.backbones import Generation, GridGeometry, load_backbone
from partpoint.errors import CheckpointError, PartPointError
from partpoint.evaluation import evaluate, patch_hit, point_hit
from partpoint.losses import part_cells
from partpoint.pointer import model as pointer_model

torch.set_num_threads(1)

CENTRE = box_mask(50, 30, 70, 50)  # around (60, 40)
CORNER = box_mask(0, 0, 10, 10)
EVERYWHERE = np.ones((HEIGHT, WIDTH), dtype=bool)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    backbone = load_backbone(build_llava(root / "llava"))
    return backbone, save_pointer(backbone, root / "pointer")


# ---------------------------------------------------------------- definitions


def test_point_hit_is_the_mask_pixel_and_misses_outside_the_image():
    mask = box_mask(10, 20, 11, 21)  # one pixel: [10, 11) x [20, 21)
    assert point_hit(mask, 10.0, 20.0) and point_hit(mask, 10.99, 20.5)
    assert not point_hit(mask, 11.0, 20.5) and not point_hit(mask, 9.99, 20.5)
    assert not point_hit(EVERYWHERE, WIDTH, 5) and not point_hit(EVERYWHERE, -0.01, 5)
    assert not point_hit(EVERYWHERE, math.nan, 5) and not point_hit(EVERYWHERE, 5, math.inf)


def test_part_cells_half_coverage_else_the_best_cells():
    assert part_cells(np.array([[0.6, 0.49], [0.5, 0.0]])).tolist() == [[True, False], [True, False]]
    assert part_cells(np.array([[0.3, 0.1], [0.3, 0.0]])).tolist() == [[True, False], [True, False]]
    assert not part_cells(np.zeros((2, 2))).any()


def test_patch_hit_uses_the_cell_under_the_point_through_the_geometry():
    # 2 x 2 grid of 10-px cells starting 20 px right of the image's left edge (like a centre crop)
    geometry = GridGeometry(sx=10.0, ox=20.0, sy=10.0, oy=0.0, grid=(2, 2), input_size=(20, 20),
                            cell_px=(1.0, 1.0))
    coverage = np.array([[0.0, 0.7], [0.2, 0.0]])
    assert patch_hit(coverage, geometry, 35.0, 5.0)  # cell (row 0, col 1)
    assert not patch_hit(coverage, geometry, 25.0, 5.0)  # cell (0, 0)
    assert not patch_hit(coverage, geometry, 25.0, 15.0)  # (1, 0): covered 0.2 but a 0.7 cell exists
    assert not patch_hit(coverage, geometry, 15.0, 5.0)  # left of the grid (cropped away)
    assert not patch_hit(coverage, geometry, math.nan, 5.0)


# ---------------------------------------------------------------- centre / random without a backbone


def test_centre_hits_a_centre_mask_and_misses_a_corner_mask():
    centre = evaluate("center", backbone=None, dataset=[sample(CENTRE)], progress=False)
    corner = evaluate("center", backbone=None, dataset=[sample(CORNER)], progress=False)
    assert (centre.hit_rate, corner.hit_rate) == (1.0, 0.0)
    assert centre.patch_acc is None and centre.samples[0]["x"] == WIDTH / 2


def test_per_category_aggregation_and_summary_keys():
    data = [sample(CENTRE, key="a"), sample(CENTRE, key="b"), sample(CORNER, key="c"),
            sample(CENTRE, category="car:wheel", key="d")]
    result = evaluate("center", backbone=None, dataset=data, progress=False)
    assert (result.n, result.hits) == (4, 3)
    assert result.per_category["mug:handle"].hits == 2 and result.per_category["mug:handle"].n == 3
    summary = result.summary()
    assert {"method", "backbone", "n", "hit_rate", "patch_acc", "per_category", "unparsed"} <= set(summary)
    assert summary["per_category"] == pytest.approx({"car:wheel": 1.0, "mug:handle": 2 / 3})
    assert "car:wheel" in result.table() and "0.750" in result.table()
    assert [s["key"] for s in json.loads(result.to_json())["samples"]] == ["a", "b", "c", "d"]


def test_random_is_seeded_and_hits_about_the_mask_area():
    data = [sample(box_mask(0, 0, WIDTH // 2, HEIGHT), key=str(i)) for i in range(200)]
    first = evaluate("random", backbone=None, dataset=data, seed=3, progress=False)
    again = evaluate("random", backbone=None, dataset=data, seed=3, progress=False)
    other = evaluate("random", backbone=None, dataset=data, seed=4, progress=False)
    assert first.samples == again.samples and first.samples != other.samples
    assert 0.38 < first.hit_rate < 0.62


def test_unknown_method_and_missing_backbone_are_user_errors():
    with pytest.raises(PartPointError, match="unknown method"):
        evaluate("magic", backbone=None, dataset=[], progress=False)
    with pytest.raises(PartPointError, match="needs a backbone"):
        evaluate("ours", backbone=None, dataset=[], progress=False)


# ---------------------------------------------------------------- methods that run the model


@pytest.mark.parametrize("method", ["ours", "attention", "center", "random"])
def test_a_mask_covering_the_whole_image_is_always_hit(tiny, method):
    backbone, pointer = tiny
    data = [sample(EVERYWHERE, key=str(i), seed=i) for i in range(2)]
    result = evaluate(method, backbone=backbone, dataset=data, pointer=pointer, progress=False)
    assert result.hit_rate == 1.0 and result.n == 2
    if method != "random":  # random can land in the strips LLaVA crops away: outside the grid
        assert result.patch_acc == 1.0


def test_patch_acc_follows_the_crop_for_centre(tiny):
    backbone, _ = tiny
    # the centre (60, 40) is in grid cell (row 2, col 2) of the 4 x 4 grid over x in [20, 100)
    cell = box_mask(60, 40, 80, 60)
    neighbour = box_mask(40, 40, 60, 60)
    result = evaluate("center", backbone=backbone,
                      dataset=[sample(cell, key="a"), sample(neighbour, key="b")],
                      progress=False)
    assert [s["patch_hit"] for s in result.samples] == [True, False]


def test_attention_takes_heads_json_and_refuses_a_missing_one(tiny, tmp_path):
    from partpoint.heads import HeadSelection

    backbone, _ = tiny
    heads = tmp_path / "heads.json"
    heads.write_text(HeadSelection(heads=[(1, 0)]).to_json())
    result = evaluate("attention", backbone=backbone, dataset=[sample(EVERYWHERE)], heads=str(heads),
                      progress=False)
    assert result.hit_rate == 1.0
    with pytest.raises(CheckpointError, match="heads file not found"):
        evaluate("attention", backbone=backbone, dataset=[sample(EVERYWHERE)],
                 heads=str(tmp_path / "no.json"),
                 progress=False)


def test_attention_without_pointer_or_heads_needs_a_bundled_pointer(tiny, tmp_path, monkeypatch):
    backbone, _ = tiny
    monkeypatch.setattr(pointer_model, "POINTERS", tmp_path / "none")
    with pytest.raises(CheckpointError, match="partpoint train"):
        evaluate("attention", backbone=backbone, dataset=[sample(EVERYWHERE)], progress=False)


def test_ours_refuses_a_pointer_of_another_backbone(tiny, tmp_path):
    backbone, _ = tiny
    other = load_backbone(build_llava(tmp_path / "other", seed=1))
    foreign = save_pointer(other, tmp_path / "foreign")
    with pytest.raises(CheckpointError, match="fingerprint"):
        evaluate("ours", backbone=backbone, dataset=[sample(EVERYWHERE)], pointer=foreign, progress=False)


def test_text_unparseable_answers_are_counted_misses(tiny, monkeypatch):
    backbone, _ = tiny
    geometry = backbone.geometry(sample(CENTRE).image)
    answers = iter(["The handle is at (0.5, 0.5).", "I cannot see a mug here."])

    def fake_generate(image, prompt, *, max_new_tokens=32, min_new_tokens=0):
        return Generation(next(answers), geometry, (WIDTH, HEIGHT))

    monkeypatch.setattr(backbone, "generate", fake_generate)
    result = evaluate("text", backbone=backbone, dataset=[sample(CENTRE, key="a"), sample(CENTRE, key="b")],
                      progress=False)
    assert (result.n, result.hits, result.unparsed) == (2, 1, 1)
    assert result.samples[0]["x"] == pytest.approx(WIDTH / 2) and result.samples[1]["parsed"] is False
    assert result.summary()["unparsed"] == 1 and "unparsed" in result.table()


def counting(mask, key, count):
    item = sample(mask, key=key, category="counting:")
    item.meta.update(task="counting", count=count)
    return item


def test_counting_needs_exactly_count_points_all_inside(tiny, monkeypatch):
    """PointArena's rule: a counting item is a hit only with ``count`` points, every one in the mask."""
    backbone, _ = tiny
    geometry = backbone.geometry(sample(CENTRE).image)
    two_boxes = box_mask(20, 0, 40, 80) | box_mask(80, 0, 100, 80)  # x in [20, 40) and [80, 100)
    # the tiny LLaVA centre-crops, so its normalised answers are in the pad-to-square frame: x = 120 u, y =
    # 120 v - 20
    answers = iter(["(0.25, 0.5) and (0.75, 0.5)", "(0.25, 0.5)", "(0.25, 0.5), (0.5, 0.5)",
                    "(0.25, 0.5) (0.75, 0.5)"])

    def fake_generate(image, prompt, *, max_new_tokens=32, min_new_tokens=0):
        return Generation(next(answers), geometry, (WIDTH, HEIGHT))

    monkeypatch.setattr(backbone, "generate", fake_generate)
    data = [counting(two_boxes, "both", 2), counting(two_boxes, "one", 2), counting(two_boxes, "outside", 2),
            sample(two_boxes, key="single")]
    result = evaluate("text", backbone=backbone, dataset=data, progress=False)
    assert [s["hit"] for s in result.samples] == [True, False, False, True]
    assert [len(s.get("points", [])) for s in result.samples] == [2, 1, 2, 0]


def test_counting_with_heatmap_methods_takes_separated_peaks(tiny):
    backbone, pointer = tiny
    item = counting(EVERYWHERE, "all", 3)
    for method in ("ours", "attention", "center"):
        record = evaluate(method, backbone=backbone, dataset=[item], pointer=pointer,
                          progress=False).samples[0]
        if method == "center":
            assert record["hit"] is False and len(record["points"]) == 1  # one point for three
            continue
        points = np.array(record["points"])
        assert record["hit"] is True and points.shape == (3, 2)
        gaps = [np.hypot(*(points[i] - points[j])) for i in range(3) for j in range(i)]
        assert min(gaps) >= 2 * 20 - 1e-6  # two 20-px grid cells apart


def test_separated_peaks_are_greedy_and_apart():
    from partpoint.pointer.decode import separated_peaks

    heat = np.zeros((6, 6))
    heat[1, 1], heat[1, 2], heat[4, 4], heat[0, 5] = 1.0, 0.9, 0.8, 0.7
    assert separated_peaks(heat, 3, min_distance=2) == [(1, 1), (4, 4), (0, 5)]  # (1, 2) is too close
    assert separated_peaks(heat, 2, min_distance=0) == [(1, 1), (1, 2)]
