"""The projector recipe (recipe/): packing, batch determinism, the no-coordinates scan of its corpus."""

from __future__ import annotations

import random
import shutil

import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402
from recipe.corpus import Item, carparts_items  # noqa: E402
from recipe.text import QA, coordinate_leaks  # noqa: E402

from partpoint.backbones.defaults import ASSET_DIR  # noqa: E402

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 190, 40)}


def fake_synth(n, *, n_single, seed, progress=False):
    """Plain coloured images with colour/existence QA: stands in for SynthParts in fast tests."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        colour = rng.choice(sorted(COLOURS))
        qas = [QA("What colour is the image?", colour, "colour"), QA("Is there a mug?", "no", "exist"),
               QA("How many objects are there?", "one", "count")]
        items.append(Item(f"synth/{i}", lambda c=colour: Image.new("RGB", (72, 72), COLOURS[c]), qas,
                          i < n_single))
    return items


def _packer_and_records(tmp_path):
    from recipe.packing import ChatPacker
    from recipe.pool import build_records
    from transformers import AutoProcessor

    from partpoint.backbones.llava import LlavaAdapter  # noqa: F401
    from tiny_models import build_tiny_backbone

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
    reference = processor(text=[text], images=[Image.new("RGB", (64, 64))],
                          return_tensors="pt")["input_ids"][0]
    assert ids == reference.tolist()
    supervised = processor.tokenizer.decode([t for t in labels if t != -100])
    assert supervised.replace(" ", "") == "".join(f"{qa.answer}</s>" for qa in turns).replace(" ", "")


def test_batch_order_is_deterministic_for_a_seed(tmp_path):
    from recipe.pool import BatchSampler

    packer, records, _ = _packer_and_records(tmp_path)

    def sampler(seed):
        return BatchSampler(records, packer=packer, batch_size=3, turns=2, seed=seed, curriculum_steps=2)

    a, b, c = sampler(1), sampler(1), sampler(2)
    assert [a.plan(s) for s in range(6)] == [b.plan(s) for s in range(6)]
    assert [a.plan(s) for s in range(6)] != [c.plan(s) for s in range(6)]
    assert torch.equal(a.batch(4)["input_ids"], b.batch(4)["input_ids"])
    assert all(records[i].easy for s in range(2) for i, _ in a.plan(s))  # curriculum: easy images first


def test_leak_scan_catches_coordinates_and_pointing_words():
    for bad in ["(x, y)", "at 120, 64", "<point x=1>", "the box around it", "Point to the mug", "x=0.4",
                "its mask"]:
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


@pytest.mark.slow
def test_alignment_trains_only_the_projector_and_resumes_exactly(tmp_path, monkeypatch):
    from recipe import align as align_module
    from recipe.align import AlignRecipe, align
    from safetensors.torch import load_file

    recipe = AlignRecipe(n_scenes=4, n_single_scenes=1, use_carparts=False, steps=3, batch_size=1, turns=2,
                         warmup_steps=1, curriculum_steps=1, checkpoint_every=1)

    def assets(name):
        folder = tmp_path / name
        shutil.copytree(ASSET_DIR, folder,
                        ignore=shutil.ignore_patterns("_align", "REPORT.md", "report.json"))
        return folder

    straight = assets("straight")
    record = align(straight, recipe=recipe, threads=2, progress=False)
    assert record["steps"] == 3 and record["data"]["synth_scenes"] == 4 and not (straight / "_align").exists()
    assert "vision tower and LM frozen" in record["trained"]
    trained = load_file(str(straight / "projector.safetensors"))
    assert set(trained) == {"linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias",
                            "image_token_embedding"}

    # interrupted after its second step, then resumed: the same projector as the uninterrupted run
    interrupted = assets("interrupted")
    real_call, calls = align_module.ProjectorObjective.__call__, []

    def failing(self, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_call(self, batch)

    monkeypatch.setattr(align_module.ProjectorObjective, "__call__", failing)
    with pytest.raises(KeyboardInterrupt):
        align(interrupted, recipe=recipe, threads=2, progress=False)
    assert (interrupted / "_align" / "checkpoint.pt").is_file()
    monkeypatch.setattr(align_module.ProjectorObjective, "__call__", real_call)
    align(interrupted, recipe=recipe, threads=2, progress=False)
    resumed = load_file(str(interrupted / "projector.safetensors"))
    for key, value in trained.items():
        assert torch.allclose(resumed[key], value, atol=1e-6), key
