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
from partpoint.example import Example, ExampleError, descriptor, example_logits, fuse, similarity
from partpoint.predictor import load_pointer

torch.set_num_threads(1)
GRID = GridGeometry.from_input_map(scale=(1.0, 1.0), offset=(0.0, 0.0), grid=(4, 4), input_size=(64, 64),
                                   cell_px=(16.0, 16.0))


def patches(features: torch.Tensor) -> PatchFeatures:
    return PatchFeatures(features, GRID, (64, 64))


def test_the_reference_part_is_found_where_its_features_went():
    """Reference cell (row 1, col 2) reappears at target cell (row 3, col 0): the match is there."""
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(16, 32, generator=generator)
    target = torch.randn(16, 32, generator=generator)
    target[3 * 4 + 0] = 2.5 * reference[1 * 4 + 2]  # same direction, another norm
    mask = np.zeros((64, 64), bool)
    mask[16:32, 32:48] = True  # exactly cell (1, 2)
    by_mask = descriptor(patches(reference), Example(image=None, mask=mask))
    torch.testing.assert_close(by_mask, torch.nn.functional.normalize(reference[6], dim=0))
    sim = similarity(patches(target), by_mask[None])
    assert sim.shape == (4, 4) and sim.argmax() == 12 and sim[3, 0] == pytest.approx(1.0)
    by_point = descriptor(patches(reference), Example(image=None, point=(40.0, 24.0)))  # cell (1, 2)'s centre
    assert similarity(patches(target), by_point[None]).argmax() == 12
    several = similarity(patches(target), torch.stack([by_point, -by_point]))  # the best reference counts
    torch.testing.assert_close(several, similarity(patches(target), by_point[None]).abs().maximum(several))


def test_fusion_is_a_log_space_mix():
    logits = example_logits(torch.eye(4), (8, 8))
    assert logits.shape == (8, 8)
    pointer = torch.randn(8, 8)
    torch.testing.assert_close(fuse(pointer, logits, 0.0).exp().sum(), torch.tensor(1.0))
    torch.testing.assert_close(fuse(pointer, logits, 0.0), pointer.reshape(-1).log_softmax(-1).reshape(8, 8))
    torch.testing.assert_close(fuse(pointer, logits, 1.0), logits.reshape(-1).log_softmax(-1).reshape(8, 8))


def test_the_fused_point_depends_on_weight_and_temperature_only_through_their_ratio():
    torch.manual_seed(0)
    pointer, sim = torch.randn(8, 8), torch.rand(8, 8)

    def point(w, t):
        return int(fuse(pointer, sim / t, w).argmax())

    ratio = lambda w, t: w / (t * (1 - w))  # noqa: E731
    assert ratio(0.5, 0.05) == pytest.approx(ratio(0.25, 1 / 60))
    assert point(0.5, 0.05) == point(0.25, 1 / 60)
    points = {point(w, 0.05) for w in (0.01, 0.1, 0.5, 0.9, 0.99)}
    assert len(points) > 1  # the ratio itself does move the point: pointer-led, then example-led
    assert point(0.001, 0.05) == int(pointer.argmax()) and point(0.999, 0.05) == int(sim.argmax())


def test_bad_examples_are_refused():
    with pytest.raises(ExampleError, match="exactly one"):
        Example(image=None)
    with pytest.raises(ExampleError, match="exactly one"):
        Example(image=None, point=(1, 2), mask=np.ones((2, 2)))
    with pytest.raises(ExampleError, match="outside"):
        descriptor(patches(torch.randn(16, 8)), Example(image=None, point=(500.0, 10.0)))
    with pytest.raises(ExampleError, match="covers none"):
        descriptor(patches(torch.randn(16, 8)), Example(image=None, mask=np.zeros((64, 64), bool)))
    with pytest.raises(ExampleError, match="64x64"):
        descriptor(patches(torch.randn(16, 8)), Example(image=None, mask=np.ones((10, 64), bool)))


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
