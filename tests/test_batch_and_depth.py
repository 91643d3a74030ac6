"""Batch pointing (resumable JSONL) and 3-D points from depth: known planes, holes, edges, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from helpers import HEIGHT, WIDTH, build_llava, picture, save_pointer
from partpoint.commands import main
from partpoint.io.camera import DepthError, Intrinsics, robust_depth, to_camera
from partpoint.pointer.result import PointResult

K = Intrinsics(fx=100.0, fy=110.0, cx=59.5, cy=39.5)


def plane_depth(width=WIDTH, height=HEIGHT, *, a=0.002, b=-0.001, c=1.5, k=K) -> np.ndarray:
    """Depth of the plane Z = a X + b Y + c seen by camera ``k`` at every pixel centre (u, v)."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rx, ry = (u - k.cx) / k.fx, (v - k.cy) / k.fy  # ray directions (X/Z, Y/Z)
    return c / (1.0 - a * rx - b * ry)


def test_a_point_on_a_known_plane_lands_on_the_plane():
    depth = plane_depth()
    for x, y in ((10.5, 5.5), (60.5, 40.5), (119.5, 79.5)):  # pixel centres: exact
        X, Y, Z = to_camera(x, y, depth, K, window=0)
        assert Z == pytest.approx(0.002 * X - 0.001 * Y + 1.5, abs=1e-9)  # on the plane
        assert (X / Z * K.fx + K.cx, Y / Z * K.fy + K.cy) == pytest.approx((x - 0.5, y - 0.5), abs=1e-9)
    X, Y, Z = to_camera(60.2, 40.9, depth, K, window=0)  # inside a pixel: that pixel's depth, the point's ray
    assert (X / Z * K.fx + K.cx, Y / Z * K.fy + K.cy) == pytest.approx((59.7, 40.4), abs=1e-9)
    assert Z == pytest.approx(0.002 * X - 0.001 * Y + 1.5, abs=1e-4)
    X, Y, Z = to_camera(60.5, 40.5, depth, K)  # a 5x5 median on a gently sloped plane stays on it
    assert Z == pytest.approx(0.002 * X - 0.001 * Y + 1.5, abs=2e-4)


def test_holes_and_edges_do_not_give_a_wrong_depth():
    depth = np.full((HEIGHT, WIDTH), 2.0)
    depth[:, 60:] = 5.0  # an object edge at x = 60
    depth[40, 58] = 0.0  # a hole right at the point
    depth[39, 57] = np.nan
    assert robust_depth(depth, 58.5, 40.5) == 2.0  # 3 of 5 columns in the window are the near surface
    depth[30:50, 50:70] = 0.0
    with pytest.raises(DepthError, match="no valid depth within 2 px"):
        robust_depth(depth, 60.0, 40.0)


def test_bad_depth_input_is_one_clear_error(tmp_path):
    result = PointResult(x=10.0, y=10.0, score=1.0, heatmap=None, width=WIDTH, height=HEIGHT)
    with pytest.raises(DepthError, match="aligned with the colour image"):
        result.to_camera(np.ones((HEIGHT + 1, WIDTH)), K)
    with pytest.raises(DepthError, match="four numbers"):
        result.to_camera(np.ones((HEIGHT, WIDTH)), "100,100,60")
    with pytest.raises(DepthError, match="not found"):
        result.to_camera(tmp_path / "none.png", K)
    millimetres = (plane_depth() * 1000).round().astype(np.uint16)
    Image.fromarray(millimetres).save(tmp_path / "depth.png")
    X, Y, Z = result.to_camera(tmp_path / "depth.png", (100, 110, 59.5, 39.5), depth_scale=0.001)
    assert Z == pytest.approx(plane_depth()[9, 9], abs=2e-3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from partpoint.backbones import load_backbone

    root = tmp_path_factory.mktemp("batch")
    backbone = build_llava(root / "llava")
    pointer = save_pointer(load_backbone(backbone), root / "pointer")
    for i in range(3):
        picture(seed=i).save(root / f"im{i}.png")
    (root / "broken.png").write_bytes(b"not an image")
    return {"root": root, "args": ["--backbone", str(backbone), "--pointer", str(pointer)]}


def write_items(path, lines):
    path.write_text("\n".join(lines) + "\n")


def test_batch_points_every_line_reports_bad_ones_and_resumes(setup, capsys):
    root = setup["root"]
    items = root / "items.jsonl"
    write_items(items, [
        json.dumps({"id": "a", "image": "im0.png",
                    "instructions": ["Point to the lid.", "Point to the handle."]}),
        "{not json",
        json.dumps({"image": "broken.png", "instruction": "Point to the lid."}),
        json.dumps({"id": "d", "image": "im1.png", "instruction": "Point to the spout."}),
        json.dumps({"id": "e", "image": "im2.png", "instructions": []}),
    ])
    out = root / "results.jsonl"
    assert main(["point", "--batch", str(items), "--out", str(out), *setup["args"]]) == 0
    err = capsys.readouterr().err
    assert f"{items}:2:" in err and f"{items}:3:" in err and f"{items}:5:" in err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in lines] == [1, 2, 3, 4, 5]
    assert [len(r.get("points", [])) for r in lines] == [2, 0, 0, 1, 0]
    assert "cannot identify" in lines[2]["error"] and lines[0]["id"] == "a"
    # the prefix-reused batch equals one point call per instruction
    from partpoint import load_pointer

    bound = load_pointer(*setup["args"][1::2])
    one = bound.point(root / "im0.png", "Point to the handle.")
    assert lines[0]["points"][1]["x"] == pytest.approx(one.x, abs=1e-3)
    # interrupted: the last line half-written, one line missing; the rerun redoes exactly those
    text = out.read_text().splitlines()
    out.write_text("\n".join(text[:3]) + "\n" + text[3][: len(text[3]) // 2])
    assert main(["point", "--batch", str(items), "--out", str(out), *setup["args"]]) == 0
    assert "resuming: 3 of 5" in capsys.readouterr().err
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in again] == [1, 2, 3, 4, 5] and again[3] == lines[3]


def test_single_point_with_depth_prints_camera_coordinates(setup, capsys):
    root = setup["root"]
    np.save(root / "depth.npy", plane_depth())
    assert main(["point", str(root / "im0.png"), "Point to the lid.", "--depth", str(root / "depth.npy"),
                 "--intrinsics", "100,110,59.5,39.5", "--json", *setup["args"]]) == 0
    record = json.loads(capsys.readouterr().out)
    X, Y, Z = (record[k] for k in "XYZ")
    assert Z == pytest.approx(0.002 * X - 0.001 * Y + 1.5, abs=2e-4)
    np.save(root / "small.npy", plane_depth()[:-1])
    assert main(["point", str(root / "im0.png"), "Point to the lid.", "--depth", str(root / "small.npy"),
                 "--intrinsics", "100,110,59.5,39.5", *setup["args"]]) == 2
    assert "aligned with the colour image" in capsys.readouterr().err
