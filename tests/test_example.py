"""Point by example: descriptors and matching on features whose correspondence is known, the predictor and the
CLI on a tiny LLaVA, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import HEIGHT, WIDTH, box_mask, build_llava, picture, save_pointer, write_instructpart
from partpoint.backbones import load_backbone
from partpoint.backbones.backbone import PatchFeatures
from partpoint.backbones.geometry import GridGeometry
from partpoint.commands import main
from partpoint.errors import InstructionError
from partpoint.example import (
    FLOOR,
    WEIGHT,
    Example,
    ExampleError,
    cell_labels,
    example_logits,
    fuse,
    transfer,
)
from partpoint.predictor import load_pointer

torch.set_num_threads(1)
GRID = GridGeometry.from_input_map(scale=(1.0, 1.0), offset=(0.0, 0.0), grid=(4, 4), input_size=(64, 64),
                                   cell_px=(16.0, 16.0))


def patches(features: torch.Tensor) -> PatchFeatures:
    return PatchFeatures(features, GRID, (64, 64))


def test_the_reference_part_is_found_where_its_features_went():
    """Reference cell (row 1, col 2), the part, reappears at target cell (row 3, col 0); the reference's other
    cells reappear too, so only the part's copy is the part."""
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(16, 32, generator=generator)
    target = torch.randn(16, 32, generator=generator)
    target[12] = 2.5 * reference[6]  # same direction, another norm
    target[5] = reference[9]  # a copy of a cell off the part
    mask = np.zeros((64, 64), bool)
    mask[16:32, 32:48] = True  # exactly cell (1, 2)
    labels = cell_labels(patches(reference), Example(image=None, mask=mask))
    torch.testing.assert_close(labels, torch.eye(16)[6])
    prob = transfer(target, reference, labels)
    assert prob.shape == (16,) and int(prob.argmax()) == 12 and prob[12] > 0.99 and prob[5] < 0.01
    by_point = cell_labels(patches(reference), Example(image=None, point=(40.0, 24.0)))  # cell (1, 2) centre
    assert int(by_point.argmax()) == 6 and by_point[6] == pytest.approx(1.0) and by_point[5] < 0.5
    assert int(transfer(target, reference, by_point).argmax()) == 12


def test_several_references_pool_their_cells():
    generator = torch.Generator().manual_seed(1)
    first, second = torch.randn(2, 16, 32, generator=generator)
    target = torch.randn(16, 32, generator=generator)
    target[3], target[10] = first[0], second[15]  # each reference's part shows up once
    labels = torch.eye(16)
    prob = transfer(target, torch.cat([first, second]), torch.cat([labels[0], labels[15]]))
    assert prob[3] > 0.99 and prob[10] > 0.99 and set(prob.topk(2).indices.tolist()) == {3, 10}


def test_fusion_keeps_the_pointers_sharpness_and_lets_the_example_break_near_ties():
    logits = example_logits(torch.eye(4), (8, 8))
    assert logits.shape == (8, 8) and logits.max() == pytest.approx(np.log(1 + FLOOR), abs=1e-6)
    pointer = torch.full((8, 8), -100.0)
    pointer[1, 1], pointer[6, 6] = 100.0, 97.0  # two peaks, the first slightly ahead
    example = torch.full((8, 8), float(np.log(FLOOR)))
    example[6, 6] = 0.0  # the reference part looks like the second peak
    torch.testing.assert_close(fuse(pointer, example, 0.0).flatten().softmax(0), pointer.flatten().softmax(0))
    assert int(fuse(pointer, example, WEIGHT).argmax()) == 6 * 8 + 6
    assert int(fuse(pointer, torch.zeros(8, 8), WEIGHT).argmax()) == 1 * 8 + 1  # a flat example: no change
    assert int(fuse(pointer, example, 1.0).argmax()) == 6 * 8 + 6
    spread = [fuse(pointer, example, w).std() for w in (0.0, WEIGHT)]
    assert spread[1] == pytest.approx(spread[0], rel=0.5)  # still in the pointer's logit units


def test_bad_examples_are_refused():
    with pytest.raises(ExampleError, match="exactly one"):
        Example(image=None)
    with pytest.raises(ExampleError, match="exactly one"):
        Example(image=None, point=(1, 2), mask=np.ones((2, 2)))
    with pytest.raises(ExampleError, match="outside"):
        cell_labels(patches(torch.randn(16, 8)), Example(image=None, point=(500.0, 10.0)))
    with pytest.raises(ExampleError, match="covers none"):
        cell_labels(patches(torch.randn(16, 8)), Example(image=None, mask=np.zeros((64, 64), bool)))
    with pytest.raises(ExampleError, match="64x64"):
        cell_labels(patches(torch.randn(16, 8)), Example(image=None, mask=np.ones((10, 64), bool)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("example")
    backbone = load_backbone(build_llava(root / "llava"))
    pointer_dir = save_pointer(backbone, root / "pointer")
    picture().save(root / "image.png")
    return dict(root=root, pointer=load_pointer(backbone, str(pointer_dir)), backbone=str(backbone.name),
                backbone_dir=str(root / "llava"), pointer_dir=str(pointer_dir), image=str(root / "image.png"))


def test_the_same_photo_as_its_own_reference_points_at_the_marked_cell(tiny):
    """The tiny LLaVA sees the centre 80 x 80 of the 120 x 80 picture as 4 x 4 cells of 20 px."""
    pointer = tiny["pointer"]
    mark = (70.0, 30.0)  # the centre of cell (row 1, col 2)
    alone = pointer.point(tiny["image"], examples=[Example(tiny["image"], point=mark)])
    assert abs(alone.x - mark[0]) <= 10 and abs(alone.y - mark[1]) <= 10 and alone.instruction is None
    scale = pointer.model.config.upsample
    assert alone.heatmap.shape == (4 * scale, 4 * scale)
    assert alone.heatmap.sum() == pytest.approx(1.0, abs=1e-4)
    both = pointer.point_many(tiny["image"], ["Point to the handle.", None],
                              examples=[Example(picture(), point=mark)])
    text_only = pointer.point(tiny["image"], "Point to the handle.")
    assert both[0].heatmap.shape == text_only.heatmap.shape
    assert not np.allclose(both[0].heatmap, text_only.heatmap)
    assert (both[1].x, both[1].y) == pytest.approx((alone.x, alone.y))
    with pytest.raises(InstructionError, match="instruction, a reference example, or both"):
        pointer.point(tiny["image"])


def test_a_qwen_backbone_points_by_example_through_its_merged_patches(tmp_path):
    """Qwen2-VL's vision tower yields the pointing grid too (its merged output): the photo as its own
    reference points at the marked cell, alone and beside an instruction."""
    from tiny_models import build_tiny_backbone

    backbone = load_backbone(build_tiny_backbone("qwen2_vl", tmp_path / "qwen", text_heads=2,
                                                 text_kv_heads=1))
    pointer = load_pointer(backbone, str(save_pointer(backbone, tmp_path / "pointer")))
    image = picture(3)
    geometry = backbone.geometry(image)
    x, y = geometry.to_image_xy(1.5, 0.5)  # the centre of cell (row 0, col 1)
    alone, both = pointer.point_many(image, [None, "Point to the handle."],
                                     examples=[Example(image, point=(x, y))])
    cell_w, cell_h = (image.width / geometry.grid[1], image.height / geometry.grid[0])
    assert abs(alone.x - x) <= cell_w / 2 and abs(alone.y - y) <= cell_h / 2
    assert both.instruction == "Point to the handle." and both.heatmap.shape == alone.heatmap.shape


def test_cli_points_by_example_without_an_instruction(tiny, capsys):
    argv = ["point", tiny["image"], "--backbone", tiny["backbone_dir"], "--pointer", tiny["pointer_dir"],
            "--example", tiny["image"], "--example-point", "70,30", "--json"]
    assert main(argv) == 0
    point = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(point["x"] - 70) <= 10 and abs(point["y"] - 30) <= 10
    assert main(argv[:-3] + ["--example-point", "70"]) == 2
    assert "is not X,Y" in capsys.readouterr().err
    mask = tiny["root"] / "mask.png"
    from PIL import Image

    Image.fromarray(np.zeros((HEIGHT, WIDTH + 1), np.uint8)).save(mask)
    assert main(argv[:-3] + ["--example-mask", str(mask)]) == 2
    assert "121x80 but its image is 120x80" in capsys.readouterr().err


def test_eval_example_draws_references_of_the_category_from_other_images(tiny, tmp_path):
    from partpoint.data import open_dataset
    from partpoint.evaluation import evaluate
    from partpoint.evaluation.run import references

    data = write_instructpart(tmp_path / "data", {"a": ("mug:handle", box_mask(20, 0, 60, 40)),
                                                  "b": ("mug:handle", box_mask(60, 40, 100, 80)),
                                                  "c": ("car:wheel", box_mask(20, 40, 60, 80))})
    dataset = open_dataset(f"{data}#2")
    rng = np.random.default_rng(0)
    assert references(dataset, 0, 3, rng) == [1] and references(dataset, 1, 1, rng) == [0]
    assert references(dataset, 2, 1, rng) == []  # the only wheel: nothing to show
    result = evaluate("example", backbone=tiny["pointer"].backbone, dataset=dataset,
                      pointer=tiny["pointer_dir"], shots=2, example_weight=1.0, progress=False)
    assert result.n == 3 and result.unparsed == 1 and result.samples[2]["x"] is None
    clicked = evaluate("example", backbone=tiny["pointer"].backbone, dataset=dataset,
                       pointer=tiny["pointer_dir"], shots=1, example_weight=1.0, example_mark="point",
                       progress=False)
    assert clicked.n == 3 and clicked.unparsed == 1 and clicked.samples[0]["x"] is not None


def test_a_clicked_reference_lands_on_the_masks_innermost_pixel():
    from partpoint.evaluation.run import innermost_point

    mask = np.zeros((40, 60), bool)
    mask[10:31, 5:16] = True  # an 11 x 21 box: its centre pixel is (10, 20)
    mask[0:3, 40:60] = True  # a thin strip: larger in area than nothing, but never deeper than the box
    assert innermost_point(mask) == (10.5, 20.5)
