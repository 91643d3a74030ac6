"""Confidence a robot can act on: negatives, the loss on them, calibration (ECE), presence and abstention,
several instances (one-to-one scoring), and the commands."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from helpers import save_pointer
from partpoint.commands import main as cli_main
from partpoint.data import open_dataset
from partpoint.data.negatives import is_negative, negatives
from partpoint.errors import CheckpointError
from partpoint.evaluation.metrics import (
    auroc,
    ece_floor,
    ece_interval,
    expected_calibration_error,
    match_points,
    reliability,
)
from partpoint.losses import pointer_loss
from partpoint.pointer import PartPointer
from partpoint.pointer.confidence import SIGNALS, Calibration, Logistic, best_threshold
from partpoint.pointer.result import PointerOutput
from partpoint.predictor import Pointer
from partpoint.training import TrainConfig, fit, prepare_items
from partpoint.training.cache import FeatureCache
from partpoint.training.calibrate import cached_signals

torch.set_num_threads(1)
HEADS = [(1, 0), (2, 3), (2, 1)]
SMALL = TrainConfig.of(epochs=12, batch_size=4, num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 16),
                       lr=3e-3, progress=False)


# --- negatives -------------------------------------------------------------------------------------------

def test_negatives_ask_for_what_the_image_does_not_show(tiny_setup):
    _, _, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    made = negatives(dataset, per_image=2, seed=0)
    assert len(made) and made.name.endswith("-negatives")
    shown = {}
    for record in dataset.records:
        shown.setdefault(record.image, set()).add(record.object)
    per_image = {}
    for record in made.records:
        assert record.object not in shown[record.image]  # several object classes: an absent object
        per_image[record.image] = per_image.get(record.image, 0) + 1
        assert is_negative(record)
    assert max(per_image.values()) <= 2
    assert [r.key for r in negatives(dataset, per_image=2, seed=0).records] == [r.key for r in made.records]
    assert [r.key for r in negatives(dataset, per_image=2, seed=1).records] != [r.key for r in made.records]
    sample = made[0]
    assert sample.mask.shape == (sample.image.height, sample.image.width) and not sample.mask.any()
    assert sample.meta["absent"]


def test_one_object_class_borrows_absent_parts_and_one_class_has_none(tiny_setup):
    _, _, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    mugs = dataset.subset([i for i, r in enumerate(dataset.records) if r.object == dataset.records[0].object])
    for record in negatives(mugs, per_image=3).records:
        assert record.category not in {r.category for r in mugs.records if r.image == record.image}
    first = dataset.records[0].category
    one = dataset.subset([i for i, r in enumerate(dataset.records) if r.category == first])
    assert len(negatives(one)) == 0


# --- the loss on negatives -------------------------------------------------------------------------------

def test_a_negative_has_an_all_zero_bce_target_and_no_heatmap_term():
    torch.manual_seed(0)
    logits, heatmap = torch.randn(3, 2, 16), torch.randn(3, 8, 8)
    target = torch.zeros(3, 16)
    target[0, 5] = 1.0
    distance = torch.randn(3, 8, 8)
    present = torch.tensor([True, False, True])
    output = PointerOutput(patch_logits=logits, attn=logits.softmax(-1), heatmap=heatmap)
    terms = pointer_loss(output, target, distance, present=present)
    keep = PointerOutput(patch_logits=logits[[0, 2]], attn=None, heatmap=heatmap[[0, 2]])
    assert terms.sdf == pytest.approx(float(pointer_loss(keep, target[[0, 2]], distance[[0, 2]]).sdf))
    assert terms.bce == pytest.approx(float(pointer_loss(output, target, distance).bce))  # all 3 in the BCE
    # a heatmap change on the negative alone changes nothing
    moved = PointerOutput(patch_logits=logits, attn=None, heatmap=heatmap.clone())
    moved.heatmap[1] += torch.randn(8, 8)
    moved_terms = pointer_loss(moved, target, distance, present=present)
    assert float(moved_terms.sdf) == pytest.approx(float(terms.sdf))
    no_sdf = TrainConfig().loss.__class__(use_sdf=False)
    assert torch.isfinite(pointer_loss(output, target, distance, no_sdf, present=present).total)


@pytest.fixture(scope="module")
def cached(tiny_setup, tmp_path_factory):
    """Prepared training items of the tiny train split and its negatives (2 per image), cached once."""
    _, backbone, train_spec, _ = tiny_setup
    cache_dir = tmp_path_factory.mktemp("negatives_cache")
    dataset = open_dataset(train_spec)
    items = {}
    for name, data in (("positives", dataset), ("negatives", negatives(dataset, per_image=2))):
        cache = FeatureCache.build(backbone, data, heads=HEADS, cache_dir=cache_dir, progress=False)
        items[name] = prepare_items(cache.entries(), scale=SMALL.pointer.upsample)[0]
    return backbone, items


def test_negatives_are_cached_absent_and_training_learns_nothing_is_there(cached):
    """The tiny backbone is random, so its features are re-drawn here: each sample's text asks for one of
    three classes and its part's keys carry that class; a negative's image carries another class. Trained
    with negatives, the presence signal separates them and the negatives' presence is pushed down."""
    from dataclasses import replace

    from partpoint.pointer import PointerIdentity

    backbone, items = cached
    assert items["negatives"] and all(not item.present for item in items["negatives"])
    assert all(float(item.patch_target.sum()) == 0 for item in items["negatives"])
    assert all(item.present for item in items["positives"])
    generator = torch.Generator().manual_seed(0)
    num_cells, dim = items["positives"][0].k_image.shape[1:]
    classes = torch.nn.functional.normalize(torch.randn(3, dim, generator=generator), dim=-1) * dim**0.5

    def shaped(item, asked: int, shown: int):
        keys = torch.randn(item.k_image.shape, generator=generator)
        cells = item.patch_target > 0 if item.present else torch.randint(num_cells, (1,), generator=generator)
        keys[:, cells] += 2 * classes[shown]
        text = 0.3 * torch.randn(item.q_text.shape, generator=generator) + classes[asked]
        return replace(item, q_text=text, k_image=keys)

    positives = [shaped(item, i % 3, i % 3) for i, item in enumerate(items["positives"])]
    absent = [shaped(item, i % 3, (i + 1) % 3) for i, item in enumerate(items["negatives"])]
    identity = PointerIdentity.of(backbone, HEADS)
    mixed = fit(positives + absent, identity=identity, config=SMALL).pointer
    alone = fit(positives, identity=identity, config=SMALL).pointer

    def presence(pointer, group):
        return cached_signals(pointer, group)[0][:, SIGNALS.index("presence")]

    scores = np.r_[presence(mixed, positives), presence(mixed, absent)]
    assert auroc(scores, [True] * len(positives) + [False] * len(absent)) > 0.95
    assert presence(mixed, absent).mean() < presence(alone, absent).mean() - 0.2


# --- calibration -----------------------------------------------------------------------------------------

def draws(seed: int, n: int = 20000):
    """Signals whose first column sets the hit probability (sigmoid(2 s - 1)); negatives have a low
    presence."""
    rng = np.random.default_rng(seed)
    signals = rng.normal(size=(n, len(SIGNALS)))
    hits = rng.random(n) < 1 / (1 + np.exp(-(2 * signals[:, 0] - 1)))
    negative = rng.normal(size=(n, len(SIGNALS)))
    negative[:, SIGNALS.index("presence")] -= 3.0
    return signals, hits, negative


def test_calibration_turns_signals_into_probabilities_that_match_hit_rates():
    signals, hits, negative = draws(0)
    calibration = Calibration.fit(signals, hits, negative)
    test_signals, test_hits, test_negative = draws(1)
    confidence, presence = calibration.score(test_signals)
    assert expected_calibration_error(confidence, test_hits) < 0.02
    raw = 1 / (1 + np.exp(-test_signals[:, 0]))  # right ranking, wrong scale
    assert expected_calibration_error(raw, test_hits) > 0.1
    assert calibration.confidence.weights[0] > 5 * max(abs(w) for w in calibration.confidence.weights[1:])
    negative_presence = calibration.presence(test_negative)
    assert auroc(np.r_[presence, negative_presence], [True] * len(presence) + [False] * len(presence)) > 0.95
    assert (presence >= calibration.threshold).mean() > 0.9
    assert (negative_presence < calibration.threshold).mean() > 0.9
    again = Calibration.from_json(calibration.to_json())
    np.testing.assert_allclose(again.score(test_signals)[0], confidence)


def test_a_reference_alone_gets_a_confidence_from_its_peak_probability():
    from partpoint.training.calibrate import fit_example

    rng = np.random.default_rng(0)
    peaks = rng.uniform(0, 1, 2000)
    hits = rng.uniform(0, 1, 2000) < 0.2 + 0.7 * peaks  # a higher part probability hits more often
    example, scores = fit_example(peaks, hits)
    assert scores["samples"] == 2000 and scores["val_auroc"] > 0.7 and scores["val_ece"] < 0.05
    test_peaks = rng.uniform(0, 1, 4000)
    test_hits = rng.uniform(0, 1, 4000) < 0.2 + 0.7 * test_peaks
    assert expected_calibration_error(example(test_peaks[:, None]), test_hits) < 0.03
    assert fit_example(peaks[:5], hits[:5])[0] is None and fit_example(peaks, np.ones(2000, bool))[0] is None
    calibration = Calibration.fit(*draws(0))
    assert calibration.example is None and Calibration.from_json(calibration.to_json()).example is None
    calibration.example = example
    again = Calibration.from_json(calibration.to_json())
    np.testing.assert_allclose(again.example(test_peaks[:, None]), example(test_peaks[:, None]))


def test_an_eval_of_references_alone_rates_their_confidence_without_a_presence():
    from partpoint.evaluation.metrics import EvalResult

    samples = [{"confidence": c, "hit": h} for c, h in ((0.9, True), (0.2, False), (0.7, True), (0.6, False))]
    summary = EvalResult(method="example", backbone="b", n=4, hits=2, patch_hits=None, unparsed=0,
                         per_category={}, samples=samples).reliability_summary()
    assert summary["ece"] == pytest.approx(expected_calibration_error([0.9, 0.2, 0.7, 0.6], [1, 0, 1, 0]))
    assert "missed_present_rate" not in summary


def test_the_vision_head_has_signals_of_its_own_and_the_heads_agreement_leaves_it_out():
    from partpoint.pointer.confidence import point_signals

    grid = (4, 4)
    attn = torch.full((1, 3, 16), 1 / 16)
    attn[0, 2] = 0.0
    attn[0, 2, 5] = 1.0  # the last row: all its mass on cell (1, 1)
    logits = torch.zeros(1, 3, 16)
    logits[0, 2, 5], logits[0, 2, 15] = 2.0, 3.0
    heat = torch.full((16, 16), 1 / 256)
    names = list(SIGNALS)
    output = PointerOutput(patch_logits=logits, attn=attn, heatmap=heat[None], vision_rows=1)
    with_head = point_signals(output, heat, grid, 1.5, 1.5)
    assert with_head[names.index("vision_agreement")] == pytest.approx(1.0)
    assert with_head[names.index("vision_local")] == pytest.approx(2.0)
    assert with_head[names.index("vision_presence")] == pytest.approx(3.0)
    assert with_head[names.index("agreement")] == pytest.approx(9 / 16)  # 2 heads, 9 cells within 1.5 cells
    output.vision_rows = 0  # the same rows read as k = 3 localization heads
    without = point_signals(output, heat, grid, 1.5, 1.5)
    assert without[-3:].tolist() == [0.0, 0.0, 0.0]
    assert without[names.index("agreement")] == pytest.approx((9 / 16 * 2 + 1.0) / 3)


def test_metrics_ece_auroc_threshold_and_one_to_one_matching():
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0]) == pytest.approx(0.1)
    assert expected_calibration_error([0.5] * 4, [1, 1, 1, 1]) == pytest.approx(0.5)
    assert [b["n"] for b in reliability([0.01, 0.02, 0.99], [0, 0, 1])] == [2, 1]
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert np.isnan(auroc([0.1, 0.2], [1, 1]))
    assert best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.8)
    first, second = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    first[1:3, 1:3], second[6:9, 6:9] = True, True
    assert match_points([(7, 7), (1.5, 1.5), (5, 5)], [first, second]) == 2
    assert match_points([(1.5, 1.5), (2.5, 2.5)], [first, second]) == 1  # one instance counts once
    assert match_points([], [first]) == 0


def test_ece_floor_is_the_noise_of_a_calibrated_predictor_and_the_interval_brackets_the_ece():
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.1, 0.8, 400)
    calibrated = rng.random(400) < confidence
    floor = ece_floor(confidence, draws=300)
    assert 0.03 < floor < 0.09  # 400 samples in 15 bins: noise alone gives this
    assert ece_floor(np.resize(confidence, 4000), draws=100) < floor / 2  # shrinks as 1/sqrt(n)
    assert expected_calibration_error(confidence, calibrated) < 2 * floor
    overconfident = np.clip(confidence + 0.2, 0, 1)
    assert expected_calibration_error(overconfident, calibrated) > 2 * floor
    low, high = ece_interval(overconfident, calibrated, draws=300)
    assert low < expected_calibration_error(overconfident, calibrated) < high and high - low < 0.1
    assert np.isnan(ece_floor([]))


def test_hold_out_splits_by_image_the_same_way_every_time(tiny_setup):
    _, _, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    kept, held = dataset.hold_out(30)
    assert len(kept) + len(held) == len(dataset) and len(held) and len(kept)
    assert not {r.image for r in kept.records} & {r.image for r in held.records}  # whole images move
    assert held.name.endswith("-held30") and kept.name == dataset.name
    assert held.keys == dataset.subset([i for i, r in enumerate(dataset.records)
                                        if r.image in {h.image for h in held.records}]).keys
    again = dataset.subset(range(len(dataset) // 2)).hold_out(30)[1]  # another subset: the same images held
    assert set(again.keys) == set(held.keys) & set(dataset.keys[: len(dataset) // 2])
    assert len(dataset.hold_out(0)[1]) == 0
    assert open_dataset(f"{train_spec}%held30").keys == held.keys  # the spec form
    assert open_dataset(f"{train_spec}%kept30").keys == kept.keys


def constant_calibration(threshold: float) -> Calibration:
    """Confidence 0.5 everywhere; presence = sigmoid(local presence signal)."""
    n = len(SIGNALS)
    flat = Logistic(mean=[0.0] * n, std=[1.0] * n, weights=[0.0] * n, bias=0.0)
    present = Logistic(mean=[0.0] * n, std=[1.0] * n, weights=[0.0] * (n - 1) + [1.0], bias=0.0)
    return Calibration(confidence=flat, presence=present, threshold=threshold)


def test_the_predictor_reports_confidence_presence_and_abstains(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    sample = open_dataset(train_spec)[0]
    directory = save_pointer(backbone, tmp_path / "pointer")
    pointer = Pointer(backbone=backbone, model=PartPointer.from_pretrained(directory))
    plain = pointer.point(sample.image, sample.instruction)
    assert plain.confidence is None and plain.present is None
    with pytest.raises(CheckpointError, match="calibrate"):
        pointer.point_all(sample.image, sample.instruction)
    pointer.model.calibration = constant_calibration(threshold=0.0)
    pointer.peak_share = 0.5  # every peak is as confident as the first here: all kept
    result = pointer.point(sample.image, sample.instruction)
    assert result.confidence == pytest.approx(0.5) and result.present and 0 < result.presence < 1
    many = pointer.point_many(sample.image, ["Point to the lid.", sample.instruction])  # rows past the first
    assert many[1].presence == pytest.approx(result.presence)
    assert (many[1].x, many[1].y) == (result.x, result.y)
    assert (result.x, result.y) == (plain.x, plain.y)
    several = pointer.point_all(sample.image, sample.instruction, max_points=3)
    assert len(several) == 3 and (several[0].x, several[0].y) == (plain.x, plain.y)
    assert len({(p.x, p.y) for p in several}) == 3 and all(p.present for p in several)
    pointer.peak_share = 1.01  # no further peak reaches the first one's confidence: one point
    assert [(p.x, p.y) for p in pointer.point_all(sample.image, sample.instruction, max_points=3)] == \
        [(plain.x, plain.y)]
    pointer.model.calibration = constant_calibration(threshold=1.0)  # nothing clears it: "not found"
    assert not pointer.point(sample.image, sample.instruction).present
    assert pointer.point_all(sample.image, sample.instruction) == []
    from partpoint.example import Example
    from partpoint.pointer.confidence import Logistic

    reference = [Example(sample.image, mask=sample.mask)]
    alone = pointer.point(sample.image, examples=reference)
    assert alone.confidence is None and alone.found  # no reference map in this calibration
    pointer.model.calibration.example = Logistic(mean=[0.5], std=[0.1], weights=[2.0], bias=0.0)
    alone = pointer.point(sample.image, examples=reference)
    assert 0 < alone.confidence < 1 and alone.presence is None and alone.found
    assert set(alone.to_dict()) == {"x", "y", "score", "width", "height", "confidence"}


def test_a_calibration_is_stored_with_its_weights_and_dropped_for_others(tiny_setup, tmp_path):
    _, backbone, _, _ = tiny_setup
    directory = save_pointer(backbone, tmp_path / "pointer")
    model = PartPointer.from_pretrained(directory)
    assert model.calibration is None
    model.calibration = constant_calibration(threshold=0.3)
    model.save_pretrained(directory)
    assert PartPointer.from_pretrained(directory).calibration.threshold == pytest.approx(0.3)
    save_pointer(backbone, directory, seed=1)  # other weights, saved without a calibration: the file goes
    assert not (directory / "calibration.json").exists()
    model.save_pretrained(directory)
    other = PartPointer.from_pretrained(directory)
    other.calibration = None
    torch.nn.init.zeros_(other.bias)
    from safetensors.torch import save_file

    from partpoint.io.atomic import atomic_write

    atomic_write(directory / "model.safetensors", lambda tmp: save_file(other.state_dict(), str(tmp)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert PartPointer.from_pretrained(directory).calibration is None  # weights changed: stale
    assert any("other weights" in str(w.message) for w in caught)


# --- the commands ----------------------------------------------------------------------------------------

def test_calibrate_then_eval_negatives_plot_and_several_instances(tiny_setup, tmp_path, capsys):
    backbone_dir, backbone, train_spec, val_spec = tiny_setup
    directory = save_pointer(backbone, tmp_path / "pointer")
    val = val_spec.split("#")[0]  # every instruction: enough hits and misses
    assert cli_main(["calibrate", "--backbone", str(backbone_dir), "--pointer", str(directory), "--data", val,
                     "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["negatives"] > 0 and 0 <= fitted["val_ece"] <= 1 and 0 <= fitted["threshold"] <= 1
    assert "by_set" not in fitted and fitted["data"] == [val]
    half = val_spec  # one instruction per part, pooled with the first: the fit sees both, the record each
    assert cli_main(["calibrate", "--backbone", str(backbone_dir), "--pointer", str(directory), "--data", val,
                     "--data", half, "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    assert set(pooled["by_set"]) == {val, half} and pooled["data"] == [val, half]
    assert pooled["samples"] == sum(s["samples"] for s in pooled["by_set"].values())
    assert 0 < pooled["by_set"][half]["samples"] <= len(open_dataset(half))  # the cache skips hidden parts
    assert pooled["by_set"][half]["samples"] < pooled["by_set"][val]["samples"]
    assert PartPointer.from_pretrained(directory).calibration is not None
    plot = tmp_path / "reliability.png"
    assert cli_main(["eval", "--backbone", str(backbone_dir), "--pointer", str(directory), "--method", "ours",
                     "--data", val, "--negatives", "1", "--plot", str(plot), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["negatives"] > 0 and 0 <= summary["absent_auroc"] <= 1
    assert 0 <= summary["false_point_rate"] <= 1 and 0 <= summary["ece"] <= 1
    assert sum(b["n"] for b in summary["reliability"]) == summary["n"]
    assert summary["ece_interval"][0] <= summary["ece_interval"][1] and 0 < summary["ece_floor"] < 1
    assert plot.stat().st_size > 1000
    assert cli_main(["eval", "--backbone", str(backbone_dir), "--pointer", str(directory), "--method", "ours",
                     "--data", val]) == 0
    table = capsys.readouterr().out
    assert f"ECE        {summary['ece']:.3f}" in table and f"would score {summary['ece_floor']:.3f}" in table
    assert cli_main(["eval", "--backbone", str(backbone_dir), "--pointer", str(directory), "--method", "ours",
                     "--data", val, "--max-points", "2", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["max_points"] == 2 and scores["all"]["groups"] > 0
    assert scores["all"]["points"] <= 2 * scores["all"]["groups"]
    assert cli_main(["eval", "--backbone", str(backbone_dir), "--method", "center", "--data", val,
                     "--negatives", "1"]) == 2
    assert "--method ours" in capsys.readouterr().err
    assert cli_main(["eval", "--backbone", str(backbone_dir), "--method", "ours", "--data", val,
                     "--max-points", "0"]) == 2
    assert "positive number or 'all'" in capsys.readouterr().err


def test_point_cli_says_not_found_and_gives_several_points(tiny_setup, tmp_path, capsys, monkeypatch):
    backbone_dir, backbone, train_spec, _ = tiny_setup
    image = tmp_path / "scene.png"
    open_dataset(train_spec)[0].image.save(image)
    directory = save_pointer(backbone, tmp_path / "pointer")
    model = PartPointer.from_pretrained(directory)

    def point(*extra):
        code = cli_main(["point", str(image), "Point to the handle of the mug.", "--backbone",
                         str(backbone_dir), "--pointer", str(directory), *extra])
        return code, capsys.readouterr()

    model.calibration = constant_calibration(threshold=1.0)  # nothing is present
    model.save_pretrained(directory)
    code, out = point("--json")
    record = json.loads(out.out)
    assert code == 0 and record["present"] is False and record["x"] is None and len(record["best_guess"]) == 2
    assert "not found" in point()[1].out
    code, out = point("--max-points", "all", "--json")
    assert code == 0 and json.loads(out.out) == []
    model.calibration = constant_calibration(threshold=0.0)  # everything is
    model.save_pretrained(directory)
    monkeypatch.setattr("partpoint.predictor.PEAK_SHARE", 0.5)  # every peak as confident as the first: kept
    code, out = point("--max-points", "2", "--json")
    records = json.loads(out.out)
    assert code == 0 and len(records) == 2 and all(r["present"] and r["confidence"] == 0.5 for r in records)
    assert "confidence 0.50" in point()[1].out
    batch = tmp_path / "items.jsonl"
    batch.write_text(json.dumps({"image": str(image), "instruction": "Point to the mug."}) + "\n")
    assert cli_main(["point", "--batch", str(batch), "--out", str(tmp_path / "out.jsonl"), "--backbone",
                     str(backbone_dir), "--pointer", str(directory)]) == 0
    line = json.loads((tmp_path / "out.jsonl").read_text())
    assert line["points"][0]["present"] is True and "confidence" in line["points"][0]
    code, out = point("--max-points", "0")
    assert code == 2 and "positive number" in out.err


def test_the_bundled_pointer_ships_its_presence_head_and_a_calibration_of_its_own_weights():
    from partpoint.pointer.model import resolve_pointer_dir

    directory = resolve_pointer_dir("default-llava", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a calibration of other weights would warn and be dropped
        bundled = PartPointer.from_pretrained(directory)
    assert bundled.reads_vision and bundled.calibration is not None
    assert 0 < bundled.calibration.threshold < 1
    fitted = bundled.calibration.fitted
    assert len(fitted["by_set"]) == len(fitted["data"]) >= 2  # SynthParts val and real photos, pooled
    assert fitted["samples"] == sum(s["samples"] for s in fitted["by_set"].values())
    assert bundled.calibration.example is not None  # references alone have a confidence map too
    assert fitted["example"]["val_auroc"] > 0.6
    log = json.loads((directory / "presence_log.json").read_text())
    assert log["hold_out_percent"] > 0 and len(log["val_sets"]) >= 2
