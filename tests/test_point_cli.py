"""`partpoint point` / `partpoint eval` end to end on a tiny LLaVA, load_pointer, error exits, the demo."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import partpoint
from helpers import HEIGHT, WIDTH, box_mask, build_llava, demo, picture, save_pointer, write_instructpart
from partpoint.backbones import load_backbone
from partpoint.commands import main
from partpoint.errors import CheckpointError
from partpoint.io.images import load_image
from partpoint.io.viz import overlay
from partpoint.pointer import model as pointer_model

torch.set_num_threads(1)
INSTRUCTION = "Point to the handle of the mug."


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    backbone_dir = build_llava(root / "llava")
    backbone = load_backbone(backbone_dir)
    pointer = save_pointer(backbone, root / "pointer")
    other = load_backbone(build_llava(root / "other", seed=1))
    foreign = save_pointer(other, root / "foreign")
    picture().save(root / "image.png")
    data = write_instructpart(root / "synth",
                              {"a": ("mug:handle", box_mask(0, 0, WIDTH, HEIGHT)),
                               "b": ("car:wheel", box_mask(0, 0, 10, 10))})
    return dict(root=root, backbone=str(backbone_dir), pointer=str(pointer), foreign=str(foreign),
                image=str(root / "image.png"), data=str(data))


def run_cli(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_point_json_is_inside_the_image_and_out_writes_an_overlay_of_its_size(setup, capsys, tmp_path):
    out = tmp_path / "o" / "overlay.png"
    status, stdout, _ = run_cli(["point", setup["image"], INSTRUCTION, "--backbone", setup["backbone"],
                                 "--pointer", setup["pointer"], "--json", "--out", str(out)], capsys)
    assert status == 0
    point = json.loads(stdout)
    assert set(point) == {"x", "y", "score", "width", "height"}
    assert (point["width"], point["height"]) == (WIDTH, HEIGHT)
    assert 20 <= point["x"] < 100 and 0 <= point["y"] < HEIGHT  # inside the part LLaVA's crop keeps
    assert 0 <= point["score"] <= 1
    with Image.open(out) as overlay:
        assert overlay.format == "PNG" and overlay.size == (WIDTH, HEIGHT)


def test_point_several_instructions_equals_one_call_each(setup, capsys, tmp_path):
    texts = [INSTRUCTION, "Point to the lid of the pot.", "Where is the spout?"]
    out = tmp_path / "many.png"
    status, stdout, _ = run_cli(["point", setup["image"], *texts, "--backbone", setup["backbone"],
                                 "--pointer", setup["pointer"], "--json", "--out", str(out)], capsys)
    assert status == 0
    many = json.loads(stdout)
    assert [m["instruction"] for m in many] == texts
    bound = partpoint.load_pointer(setup["backbone"], setup["pointer"])
    for record, text in zip(many, texts):
        one = bound.point(setup["image"], text)
        assert record["x"] == pytest.approx(one.x, abs=1e-3) and record["y"] == pytest.approx(one.y, abs=1e-3)
        assert record["score"] == pytest.approx(one.score, abs=1e-4)
    results = bound.point_many(setup["image"], texts)
    assert [r.x for r in results] == pytest.approx([m["x"] for m in many], abs=1e-6)
    with Image.open(out) as overlay:
        assert overlay.size == (WIDTH, HEIGHT)
    with pytest.raises(partpoint.errors.InstructionError):
        bound.point_many(setup["image"], [])


def test_the_predictor_runs_the_processor_once_and_its_results_carry_the_geometry(setup, monkeypatch):
    pointer = partpoint.load_pointer(setup["backbone"], setup["pointer"])
    assert isinstance(pointer, partpoint.Pointer) and pointer.heads == ((0, 0), (1, 1))
    calls, loads = [], []
    prepare = pointer.backbone.prepare_inputs
    monkeypatch.setattr(pointer.backbone, "prepare_inputs", lambda *a,
                        **k: calls.append(1) or prepare(*a, **k))
    monkeypatch.setattr(Image, "open", lambda *a, real=Image.open, **k: loads.append(1) or real(*a, **k))
    texts = [INSTRUCTION, "Point to the lid of the pot."]
    results = pointer.point_many(setup["image"], texts)
    assert len(calls) == 1 and len(loads) == 1  # one processor run and one image read for both instructions
    assert [r.instruction for r in results] == texts
    image = load_image(setup["image"])
    assert load_image(image) is image  # an image load_image returned passes through as it is
    assert overlay(image, results).size == (WIDTH,
                                            HEIGHT) and len(calls) == 1  # drawn from the results' geometry
    # cached per image size
    assert results[0].geometry == pointer.backbone.geometry(image) and len(calls) == 1


def test_point_text_output(setup, capsys):
    status, stdout, _ = run_cli(["point", setup["image"], INSTRUCTION, "--backbone", setup["backbone"],
                                 "--pointer", setup["pointer"]], capsys)
    assert status == 0 and stdout.startswith("point (") and f"{WIDTH}x{HEIGHT}" in stdout


@pytest.mark.parametrize(
    "case, needle",
    [
        ("unreadable", "cannot identify"),
        ("missing_image", "image file not found"),
        ("empty", "instruction is empty"),
        ("no_pointer_dir", "pointer directory not found"),
        ("foreign", "fingerprint"),
        ("no_bundled", "partpoint train"),
        ("no_backbone", "neither a model directory"),
    ],
)
def test_point_bad_input_exits_2_with_one_line(setup, capsys, tmp_path, monkeypatch, case, needle):
    image, text, extra = setup["image"], INSTRUCTION, ["--backbone", setup["backbone"], "--pointer",
                                                       setup["pointer"]]
    if case == "unreadable":
        image = tmp_path / "notes.png"
        image.write_text("not an image")
    elif case == "missing_image":
        image = tmp_path / "nowhere.png"
    elif case == "empty":
        text = "   "
    elif case == "no_pointer_dir":
        extra = ["--backbone", setup["backbone"], "--pointer", str(tmp_path / "nope")]
    elif case == "foreign":
        extra = ["--backbone", setup["backbone"], "--pointer", setup["foreign"]]
    elif case == "no_bundled":
        monkeypatch.setattr(pointer_model, "POINTERS", tmp_path / "none")
        extra = ["--backbone", setup["backbone"]]
    elif case == "no_backbone":
        extra = ["--backbone", str(tmp_path / "no-model")]
    status, stdout, stderr = run_cli(["point", str(image), text, *extra], capsys)
    assert status == 2 and stdout == ""
    assert stderr.startswith("error: ") and needle in stderr and stderr.count("\n") == 1


def test_eval_json_keys_and_limit(setup, capsys, tmp_path):
    results = tmp_path / "results.json"
    status, stdout, _ = run_cli(["eval", "--backbone", setup["backbone"], "--pointer", setup["pointer"],
                                 "--method", "ours", "--data", setup["data"], "--json", "--out",
                                 str(results)], capsys)
    assert status == 0
    summary = json.loads(stdout)
    assert {"method", "backbone", "n", "hit_rate", "patch_acc", "per_category"} <= set(summary)
    assert summary["method"] == "ours" and summary["n"] == 6  # 2 images x instructions 0, 1, 2
    assert summary["per_category"]["mug:handle"] == 1.0  # its mask is the whole image
    assert len(json.loads(results.read_text())["samples"]) == 6
    status, stdout, _ = run_cli(["eval", "--backbone", setup["backbone"], "--method", "center",
                                 "--data", setup["data"], "--limit", "2", "--json"], capsys)
    assert status == 0 and json.loads(stdout)["n"] == 2


def test_eval_table_and_bad_data(setup, capsys, tmp_path):
    status, stdout, _ = run_cli(["eval", "--backbone", setup["backbone"], "--method", "center",
                                 "--data", setup["data"]], capsys)
    assert status == 0 and "hit rate" in stdout and "car:wheel" in stdout and "mug:handle" in stdout
    status, _, stderr = run_cli(["eval", "--backbone", setup["backbone"], "--method", "center",
                                 "--data", str(tmp_path / "nothing")], capsys)
    assert status == 2 and "dataset not found" in stderr and stderr.count("\n") == 1


def test_load_pointer_binds_the_backbone_and_refuses_a_foreign_pointer(setup):
    bound = partpoint.load_pointer(backbone=setup["backbone"], pointer=setup["pointer"])
    result = bound.point(setup["image"], INSTRUCTION)
    assert (result.width, result.height) == (WIDTH, HEIGHT) and 0 <= result.x < WIDTH
    assert overlay(load_image(setup["image"]), [result]).size == (WIDTH, HEIGHT)
    with pytest.raises(CheckpointError, match="fingerprint"):
        partpoint.load_pointer(backbone=bound.backbone, pointer=setup["foreign"])


def test_demo_runs_point_with_the_bundled_pointer(capsys, tmp_path, monkeypatch):
    folder = build_llava(tmp_path / "default-llava")  # a tiny stand-in under the default's name
    monkeypatch.setattr(demo, "BACKBONE", str(folder))
    monkeypatch.setattr(demo, "OUT", tmp_path / "demo")
    monkeypatch.setattr(pointer_model, "POINTERS", tmp_path / "pointers")
    save_pointer(load_backbone(folder), tmp_path / "pointers" / "default-llava")
    assert demo.main() == 0
    out = capsys.readouterr().out
    point = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert 0 <= point["x"] < point["width"] and 0 <= point["y"] < point["height"]
    assert (tmp_path / "demo" / "overlay.png").is_file() and "overlay" in out.splitlines()[-1]
    assert "in the annotated bag" in out.splitlines()[-2]  # the verdict against the photo's mask
