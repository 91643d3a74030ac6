"""The recipe's backbone report: end to end on a tiny LLaVA, answer matching, held-out scenes, peak
classing."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recipe.heldout import (  # noqa: E402
    QA_KINDS,
    answers_match,
    heldout_scenes,
    normalize_answer,
    part_color_target,
    sample_questions,
)
from recipe.peaks import PeakRecords, PeakTarget, cell_classes, peak_records, summarize_peaks  # noqa: E402

from partpoint.backbones.features import Features, LayerFeatures  # noqa: E402
from partpoint.backbones.geometry import GridGeometry  # noqa: E402
from partpoint.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def scenes():
    return heldout_scenes(6, progress=False)


@pytest.fixture(scope="module")
def toy_backbone_dir(tmp_path_factory):
    from tiny_models import build_tiny_backbone

    torch.set_num_threads(1)
    return build_tiny_backbone("llava", tmp_path_factory.mktemp("bb") / "tiny-llava", image_size=72,
                               patch_size=18,
                               text_layers=2, text_heads=2, text_kv_heads=1)


def test_report_cli_writes_both_files_with_every_question_type_and_baseline(toy_backbone_dir, capsys):
    from recipe.__main__ import main

    code = main(["report", str(toy_backbone_dir), "--out", str(toy_backbone_dir), "--scenes", "6",
                 "--questions", "24", "--peak-targets", "8",
                 "--car-questions", "3", "--threads", "1"])
    assert code == 0
    data = json.loads((toy_backbone_dir / "report.json").read_text())
    markdown = (toy_backbone_dir / "REPORT.md").read_text()
    assert markdown in capsys.readouterr().out
    assert list(data["vqa"]["per_kind"]) == list(QA_KINDS)
    for kind, stats in data["vqa"]["per_kind"].items():
        assert 1 <= stats["n"] <= 4 and stats["accuracy"] == stats["correct"] / stats["n"]
        assert stats["majority_rate"] >= 1 / stats["n"] and stats["majority_answer"]
        assert f"| {kind} | {stats['n']} |" in markdown
    car = data["carparts_test"]
    assert "skipped" in car or sum(s["n"] for s in car["per_kind"].values()) == 3
    for source in ("part_color", "direct"):
        summary = data["attention"][source]
        assert summary["n_select"] + summary["n_report"] == 8
        assert len(summary["per_layer"]) == 2  # 2 text layers
        assert set(summary["baselines"]) == {"chance", "sibling_chance", "foreground_uniform",
                                             "object_uniform"}
        assert 0 < summary["baselines"]["chance"] <= summary["baselines"]["foreground_uniform"] <= 1
    assert data["pretraining"]["weights_bytes"] > 0
    assert "Baselines (half B): uniform chance" in markdown and "## Pretraining record" in markdown


def test_report_cli_refuses_a_folder_without_a_model(tmp_path, capsys):
    from recipe.__main__ import main

    from partpoint.errors import BackboneError

    with pytest.raises(BackboneError, match="no config.json"):
        main(["report", str(tmp_path), "--out", str(tmp_path)])


def test_exact_match_normalises_case_punctuation_and_spaces_only():
    assert normalize_answer("  Wine   Glass! ") == "wine glass"
    assert answers_match("Red.", "red") and answers_match("YES", "yes") and answers_match("two,", "two")
    assert not answers_match("red car", "red") and not answers_match("", "red") and not answers_match("reds",
                                                                                                      "red")


def test_heldout_scenes_are_not_pretraining_scenes(scenes):
    from recipe.corpus import synth_train_items

    train = synth_train_items(6, n_single=2, seed=0, progress=False)
    train_pixels = {np.asarray(item.load_image()).tobytes() for item in train}
    assert not any(s.scene.image.tobytes() in train_pixels for s in scenes)
    assert len({s.scene.image.tobytes() for s in scenes}) == len(scenes)
    with pytest.raises(DataError, match="held-out split"):
        heldout_scenes(1, split="train", progress=False)


def test_every_part_colour_question_maps_to_its_part_and_sampling_is_per_kind(scenes):
    n_part_questions = 0
    for s in scenes:
        for qa in s.qas:
            target = part_color_target(s.graph, qa.question)
            assert (target is not None) == (qa.kind == "part_color")
            if target is not None:
                n_part_questions += 1
                instance, part = target
                assert qa.answer == s.graph["objects"][instance]["part_colors"][part]
                assert s.scene.part_mask(instance, part).any()
    assert n_part_questions > 0
    asked = sample_questions(scenes, per_kind=2, seed=0)
    kinds = [qa.kind for _, qa in asked]
    assert all(kinds.count(k) == 2 for k in QA_KINDS) and asked == sample_questions(scenes, per_kind=2,
                                                                                    seed=0)


class _OracleBackbone:
    """Puts every head's attention peak on the centre cell of the asked part (or its sibling, for layer 1)."""

    num_layers = 2

    def __init__(self, scenes, targets, grid=(8, 8)):
        self.scenes, self.targets, self.grid = scenes, {t.text: t for t in targets}, grid

    def _features(self, image, text):
        w, h = image.size
        p_h, p_w = self.grid
        geometry = GridGeometry(sx=w / p_w, ox=0.0, sy=h / p_h, oy=0.0, grid=self.grid, input_size=(w, h),
                                cell_px=(1.0, 1.0))
        feats = Features(layers={}, geometry=geometry, image_size=(w, h))
        t = self.targets[text]
        cells = cell_classes(feats, self.scenes[t.scene].scene, t.instance, t.part)
        for layer, wanted in enumerate(("part", "sibling")):
            attn = torch.zeros(3, p_h * p_w)  # (H, P)
            candidates = np.flatnonzero(cells[wanted])
            attn[:, int(candidates[0]) if len(candidates) else 0] = 1.0
            feats.layers[layer] = LayerFeatures(q_text=None, k_image=None, v_image=None, attn_last=attn,
                                                attn_last_mass=torch.ones(3), scale=1.0)
        return feats

    def encode_batch(self, images, texts, *, layers):
        assert list(layers) == [0, 1]
        return [self._features(im, t) for im, t in zip(images, texts)]


def test_peak_records_class_an_oracle_peak_as_the_asked_part(scenes):
    targets = []
    for index, s in enumerate(scenes):
        for qa in s.qas:
            target = part_color_target(s.graph, qa.question)
            if target is not None:
                targets.append(PeakTarget(index, *target, f"{index}:{qa.question}", "part_color"))
    records = peak_records(_OracleBackbone(scenes, targets), scenes, targets, batch_size=3, progress=False)
    assert records.part_hit.shape == (len(targets), 2, 3)
    assert records.part_hit[:, 0].all() and records.object_hit[:, 0].all() and records.foreground_hit[:,
                                                                                                      0].all()
    assert not records.sibling_hit[:, 0].any()
    has_sibling = records.sibling_chance > 0  # layer 1 peaks on a sibling cell when the object has one
    assert has_sibling.any() and (records.sibling_hit[:, 1].all(-1) == has_sibling).all()
    assert (records.object_hit[:, 1].all(-1) == has_sibling).all() and not records.part_hit[has_sibling,
                                                                                            1].any()
    assert (records.chance <= records.foreground_uniform).all()
    assert (records.foreground_uniform <= records.object_uniform).all()
    summary = summarize_peaks(records)
    assert summary["per_layer"][0]["part"] == 1.0 and summary["best"]["layer"] == 0


def test_heads_are_chosen_on_half_a_and_scored_on_half_b():
    n, scene = 8, np.arange(8)
    part_hit = np.zeros((n, 1, 2), bool)
    part_hit[scene % 2 == 0, 0, 0] = True  # head 0: perfect on half A only
    part_hit[scene % 2 == 1, 0, 1] = True  # head 1: perfect on half B only
    zeros, fractions = np.zeros_like(part_hit), np.full(n, 0.1)
    records = PeakRecords(part_hit=part_hit, sibling_hit=zeros, object_hit=part_hit, foreground_hit=part_hit,
                          chance=fractions, sibling_chance=fractions, foreground_uniform=fractions,
                          object_uniform=fractions, scene=scene)
    summary = summarize_peaks(records)
    row = summary["per_layer"][0]
    assert row["best_head"] == 0 and row["select_part"] == 1.0 and row["part"] == 0.0
    assert row["mean_heads_part"] == 0.5 and summary["n_select"] == summary["n_report"] == 4
    with pytest.raises(DataError, match="both scene halves"):
        summarize_peaks(PeakRecords(**{**records.__dict__, "scene": np.zeros(n, int)}))
