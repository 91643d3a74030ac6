"""The presence head: vision patches captured in the same forward, cached with the records, a head trained
alone that learns "is the named part in the image", and the command that adds it to a trained pointer."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import picture, save_pointer
from partpoint.commands import main as cli_main
from partpoint.data import open_dataset
from partpoint.data.negatives import negatives
from partpoint.evaluation.metrics import auroc
from partpoint.pointer import PartPointer, PointerIdentity
from partpoint.pointer.confidence import SIGNALS
from partpoint.predictor import Pointer
from partpoint.training import prepare_items
from partpoint.training.cache import FeatureCache
from partpoint.training.calibrate import cached_signals
from partpoint.training.presence import fit_presence, presence_logits, with_presence_head

torch.set_num_threads(1)
HEADS = [(1, 0), (2, 3), (2, 1)]


def test_an_encode_captures_the_vision_patches_point_by_example_reads(tiny_setup):
    _, backbone, _, _ = tiny_setup
    first, second = picture(0), picture(1)
    expected = [backbone.patch_features(im).features for im in (first, second)]
    many = backbone.encode_many(first, ["Point to the handle.", "Point to the lid of the pot."], layers=[1],
                                vision=True)
    assert all(torch.allclose(f.vision, expected[0], atol=1e-5) for f in many)
    batch = backbone.encode_batch([first, second], ["a", "b"], layers=[1], vision=True)
    assert all(torch.allclose(f.vision, e, atol=1e-5) for f, e in zip(batch, expected))
    assert batch[0].vision.shape == (np.prod(batch[0].grid), backbone.vision_dim)
    assert backbone.encode(first, "a", layers=[1]).vision is None  # only when asked


def test_vision_records_get_their_own_cache(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    plain = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, progress=False)
    seeing = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, progress=False,
                                vision=True)
    assert plain.directory != seeing.directory and "vision" not in plain.key and seeing.key["vision"]
    assert plain[0].vision is None
    assert seeing[0].vision.shape == (np.prod(seeing[0].grid), backbone.vision_dim)
    assert torch.allclose(seeing[0].k_image.float(), plain[0].k_image.float())  # the same capture besides


def test_a_pointer_without_vision_width_cannot_have_a_presence_head(tiny_setup, tmp_path):
    _, backbone, _, _ = tiny_setup
    pointer = PartPointer.from_pretrained(save_pointer(backbone, tmp_path / "p"))
    from partpoint.errors import CheckpointError

    with pytest.raises(CheckpointError, match="vision"):
        PartPointer(replace(pointer.config, presence_dim=8), replace(pointer.identity, vision_dim=0))


@pytest.fixture(scope="module")
def shaped(tiny_setup, tmp_path_factory):
    """Cached vision records of the tiny train split and its negatives, re-drawn so that presence is
    learnable: the text asks for one of three classes; the image's patches carry the classes it shows (a
    negative's image shows another one). The tiny backbone is random, so its own features say nothing."""
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    cache_dir = tmp_path_factory.mktemp("presence_cache")
    records = []
    for data in (dataset, negatives(dataset, per_image=2)):
        cache = FeatureCache.build(backbone, data, heads=HEADS, cache_dir=cache_dir, progress=False,
                                   vision=True)
        records += prepare_items(cache.entries(), scale=4)[0]
    generator = torch.Generator().manual_seed(0)
    q_dim, v_dim = records[0].q_text.shape[-1], records[0].vision.shape[-1]
    text_classes, image_classes = torch.randn(3, q_dim, generator=generator), torch.randn(3, v_dim,
                                                                                          generator=generator)

    def draw(record, index: int):
        asked = index % 3
        shown = asked if record.present else (asked + 1) % 3
        vision = torch.randn(record.vision.shape, generator=generator)
        vision[torch.randint(vision.shape[0], (8,), generator=generator)] += 4 * image_classes[shown]
        text = 0.5 * torch.randn(record.q_text.shape, generator=generator) + text_classes[asked]
        return replace(record, q_text=text, vision=vision)

    drawn = [draw(r, i) for i, r in enumerate(records)] + [draw(r, i + 7) for i, r in enumerate(records)]
    return backbone, drawn


def test_the_presence_head_learns_what_is_there_and_leaves_pointing_alone(shaped, tmp_path):
    backbone, records = shaped
    train, val = records[::2], records[1::2]
    assert {r.present for r in train} == {True, False}
    from partpoint.pointer import PointerConfig

    torch.manual_seed(0)
    start = PartPointer(PointerConfig(num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 8)),
                        PointerIdentity.of(backbone, HEADS))  # the heads of the cached records
    grown = with_presence_head(start, dim=16, vision_dim=backbone.vision_dim, seed=0)
    assert grown.reads_vision and not start.reads_vision
    before = {k: v.clone() for k, v in grown.state_dict().items()}
    labels = [r.present for r in val]
    untrained = auroc(presence_logits(grown, val), labels)
    trained, log = fit_presence(grown, train, epochs=25, lr=1e-2, batch_size=8, val_items=val, progress=False)
    assert len(log) == 25 and log[-1]["loss"] < log[0]["loss"]
    assert auroc(presence_logits(trained, val), labels) > max(0.9, untrained + 0.2)
    for name, value in trained.state_dict().items():  # only the head moved
        assert torch.equal(value, before[name]) == (not name.startswith("presence.")), name
    signals, _ = cached_signals(trained, val)  # the presence signal is the head's logit
    np.testing.assert_allclose(signals[:, SIGNALS.index("presence")], presence_logits(trained, val),
                               atol=1e-5)
    with pytest.raises(ValueError, match="negatives"):
        fit_presence(trained, [r for r in train if r.present], epochs=1, lr=1e-3, progress=False)


def test_a_presence_head_round_trips_and_the_predictor_feeds_it(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    start = PartPointer.from_pretrained(save_pointer(backbone, tmp_path / "p"))
    grown = with_presence_head(start, dim=8, vision_dim=backbone.vision_dim, seed=0)
    torch.nn.init.normal_(grown.presence.bias)
    grown.save_pretrained(tmp_path / "grown")
    loaded = PartPointer.from_pretrained(tmp_path / "grown")
    assert loaded.config.presence_dim == 8 and loaded.identity.vision_dim == backbone.vision_dim
    assert torch.equal(loaded.presence.bias, grown.presence.bias)
    sample = open_dataset(train_spec)[0]
    pointer = Pointer(backbone=backbone, model=loaded)
    features = backbone.encode(sample.image, sample.instruction, layers=loaded.identity.layers, vision=True)
    from partpoint.pointer import SampleFeatures, collate

    output = loaded(collate([SampleFeatures.of(features, loaded.identity.heads)]))
    assert output.presence_logit.shape == (1,)
    plain = Pointer(backbone=backbone, model=start).point(sample.image, sample.instruction)
    result = pointer.point(sample.image, sample.instruction)
    assert (result.x, result.y) == (plain.x, plain.y)  # the head does not move the point


def test_presence_command_adds_a_head_then_calibrate_reads_it(tiny_setup, tmp_path, capsys):
    backbone_dir, backbone, train_spec, val_spec = tiny_setup
    start = save_pointer(backbone, tmp_path / "pointer")
    out = tmp_path / "with_presence"
    val = val_spec.split("#")[0]
    assert cli_main(["presence", "--backbone", str(backbone_dir), "--pointer", str(start),
                     "--data", train_spec,
                     "--val", val, "--hold-out", "30", "--out", str(out), "--dim", "8", "--epochs", "2",
                     "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "partpoint calibrate" in printed
    log = json.loads((out / "presence_log.json").read_text())
    assert len(log["epochs"]) == 2 and "val_absent_auroc" in log["epochs"][0] and log["val_items"] > 0
    held = open_dataset(train_spec).hold_out(30)[1]
    assert list(log["val_sets"]) == [val, f"{train_spec} (held out)"] and log["val_sets"][val] > 0
    assert log["val_sets"][f"{train_spec} (held out)"] >= len(held) > 0  # its samples and their negatives
    by_set = log["epochs"][0]["val_absent_auroc_by_set"]
    assert log["epochs"][0]["val_absent_auroc"] == pytest.approx(np.mean(list(by_set.values())))
    model = PartPointer.from_pretrained(out)
    assert model.reads_vision and model.calibration is None
    assert cli_main(["calibrate", "--backbone", str(backbone_dir), "--pointer", str(out), "--data", val,
                     "--data", train_spec, "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert PartPointer.from_pretrained(out).calibration is not None
    assert fitted["example"]["samples"] > 0  # the train scenes share categories across images: references
    assert cli_main(["presence", "--backbone", str(backbone_dir), "--pointer", str(start),
                     "--data", train_spec,
                     "--out", str(out), "--negatives", "0"]) == 2
    assert "negatives" in capsys.readouterr().err


def test_identity_without_vision_width_still_loads(tiny_setup, tmp_path):
    """Pointers saved before the presence head have no ``vision_dim`` in their identity."""
    _, backbone, _, _ = tiny_setup
    directory = save_pointer(backbone, tmp_path / "p")
    config = json.loads((directory / "config.json").read_text())
    del config["identity"]["vision_dim"]
    (directory / "config.json").write_text(json.dumps(config))
    loaded = PartPointer.from_pretrained(directory)
    assert loaded.identity.vision_dim == 0 and loaded.presence is None
    assert isinstance(PointerIdentity.of(backbone, HEADS).vision_dim, int)


def test_training_a_pointer_with_a_presence_head_caches_patches_and_trains_it(tiny_setup, tmp_path):
    """``partpoint train --presence-dim N``: the caches hold the vision patches and the joint loss trains the
    head with the rest (its weights leave their initialisation)."""
    from partpoint.training import TrainConfig, train_pointer

    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    config = TrainConfig.of(epochs=2, batch_size=4, num_latents=4, depth=1, decoder_dim=16,
                            stage_dims=(16, 8), presence_dim=8, progress=False,
                            cache_dir=str(tmp_path / "cache"))
    torch.manual_seed(config.seed)
    untrained = PartPointer(config.pointer, PointerIdentity.of(backbone, HEADS)).presence.state_dict()
    result = train_pointer(backbone, [dataset, negatives(dataset, per_image=2)], heads=HEADS,
                           out_dir=tmp_path / "out", config=config)
    trained = PartPointer.from_pretrained(tmp_path / "out")
    assert trained.reads_vision and all(json.loads((tmp_path / "cache" / c.name / "key.json").read_text())
                                        ["key"].get("vision") for c in (tmp_path / "cache").iterdir())
    assert not torch.equal(trained.presence.text.weight, untrained["text.weight"])
    assert result.log["epochs"][-1]["loss"] > 0
