"""Pretraining: tiny end-to-end run, exact resume, packing, determinism, and the no-coordinates scan."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from partpoint.pretrain.corpus import Item, carparts_items  # noqa: E402
from partpoint.pretrain.run import pretrain, toy_recipe  # noqa: E402
from partpoint.pretrain.text import QA, coordinate_leaks  # noqa: E402

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 190, 40)}


def fake_synth(n, *, n_single, seed, progress=False):
    """Plain coloured images with colour/existence QA: stands in for SynthParts in fast tests."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        colour = rng.choice(sorted(COLOURS))
        qas = [QA("What colour is the image?", colour, "colour"), QA("Is there a mug?", "no", "exist"),
               QA("How many objects are there?", "one", "count")]
        items.append(Item(f"synth/{i}", lambda c=colour: Image.new("RGB", (72, 72), COLOURS[c]), qas, i < n_single))
    return items


@pytest.mark.parametrize("arch", ["llava", "qwen2_5_vl"])
def test_tiny_run_gives_a_loadable_backbone_that_encodes_and_generates(tmp_path, arch):
    from partpoint.backbones import load_backbone

    out = tmp_path / arch
    record = pretrain(arch, str(out), recipe=toy_recipe(arch), threads=1, synth_items=fake_synth, progress=False)
    assert record["steps"] == 4 and record["data"]["qa_pairs"] == 18 and record["final_loss"] > 0
    assert (out / "pretrain.json").is_file() and not (out / "_train").exists()
    bb = load_backbone(str(out))
    assert next(bb.model.parameters()).dtype == torch.float32
    feats = bb.encode(Image.new("RGB", (72, 72), COLOURS["red"]), "What colour is the image?", layers=[0])
    assert feats.grid == (4, 4)
    attn = feats.layers[0].attn_last
    assert attn.shape[-1] == 16 and torch.allclose(attn.sum(-1), torch.ones(attn.shape[0]), atol=1e-4)
    text = bb.generate(Image.new("RGB", (72, 72), COLOURS["red"]), "What colour is the image?", max_new_tokens=3).text
    assert isinstance(text, str)


def test_resume_continues_exactly(tmp_path):
    full = pretrain("llava", str(tmp_path / "full"), recipe=toy_recipe("llava", steps=6), threads=1,
                    synth_items=fake_synth, progress=False)
    interrupted = _run_until(tmp_path / "r", stop_at=3)
    assert interrupted == 3
    resumed = pretrain("llava", str(tmp_path / "r"), recipe=toy_recipe("llava", steps=6), threads=1,
                       synth_items=fake_synth, progress=False, resume=True)
    assert resumed["steps"] == 6
    assert resumed["loss_curve"] == full["loss_curve"]
    assert resumed["final_loss"] == full["final_loss"]


def _run_until(out, *, stop_at):
    """Run the 6-step schedule but die (KeyboardInterrupt) right after the checkpoint at ``stop_at``."""
    import partpoint.pretrain.loop as loop

    original = loop.save_checkpoint

    def save_then_stop(path, **kw):
        original(path, **kw)
        if kw["result"].step == stop_at:
            raise KeyboardInterrupt

    loop.save_checkpoint = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            pretrain("llava", str(out), recipe=toy_recipe("llava", steps=6), threads=1, synth_items=fake_synth,
                     progress=False, checkpoint_every_steps=stop_at)
    finally:
        loop.save_checkpoint = original
    return torch.load(out / "_train" / "checkpoint.pt", weights_only=False)["step"]


def _packer_and_records(tmp_path):
    from transformers import AutoProcessor

    from partpoint.backbones.build import build_tiny_backbone
    from partpoint.backbones.llava import LlavaAdapter  # noqa: F401
    from partpoint.pretrain.packing import ChatPacker
    from partpoint.pretrain.pool import build_records

    path = build_tiny_backbone("llava", tmp_path / "m", image_size=64, patch_size=16, vision_hidden=32,
                               vision_layers=1, text_hidden=32, text_layers=1, text_heads=2, text_kv_heads=1)
    processor = AutoProcessor.from_pretrained(path)
    records = build_records(processor, [tuple(i) for i in fake_synth(5, n_single=2, seed=0)], image_size=64,
                            progress=False)
    return ChatPacker(processor=processor), records, processor


def test_packing_matches_the_processor_and_labels_only_answers(tmp_path):
    packer, records, processor = _packer_and_records(tmp_path)
    turns = records[0].qas
    ids, labels = packer.encode(turns, n_image_tokens=records[0].n_image_tokens)
    text = packer.render(turns)
    reference = processor(text=[text], images=[Image.new("RGB", (64, 64))], return_tensors="pt")["input_ids"][0]
    assert ids == reference.tolist()
    supervised = processor.tokenizer.decode([t for t in labels if t != -100])
    assert supervised.replace(" ", "") == "".join(f"{qa.answer}</s>" for qa in turns).replace(" ", "")


def test_batch_order_is_deterministic_for_a_seed(tmp_path):
    from partpoint.pretrain.pool import BatchSampler

    packer, records, _ = _packer_and_records(tmp_path)

    def sampler(seed):
        return BatchSampler(records, packer=packer, batch_size=3, turns=2, seed=seed, curriculum_steps=2)

    a, b, c = sampler(1), sampler(1), sampler(2)
    assert [a.plan(s) for s in range(6)] == [b.plan(s) for s in range(6)]
    assert [a.plan(s) for s in range(6)] != [c.plan(s) for s in range(6)]
    assert torch.equal(a.batch(4)["input_ids"], b.batch(4)["input_ids"])
    assert all(records[i].easy for s in range(2) for i, _ in a.plan(s))  # curriculum: easy images first


def test_leak_scan_catches_coordinates_and_pointing_words():
    for bad in ["(x, y)", "at 120, 64", "<point x=1>", "the box around it", "Point to the mug", "x=0.4", "its mask"]:
        assert coordinate_leaks(bad), bad
    assert coordinate_leaks("What colour is the handle of the mug? red") == []


def test_car_corpus_has_no_coordinates(shared_data):
    items = carparts_items(f"{shared_data}/carparts/trainingset", seed=0)
    assert len(items) == 400
    texts = [f"{qa.question} {qa.answer}" for item in items for qa in item.qas]
    assert len(texts) > 3000
    assert [t for t in texts if coordinate_leaks(t)] == []
    kinds = {qa.kind for item in items for qa in item.qas}
    assert kinds == {"car_visible", "car_wheels", "car_view"}
