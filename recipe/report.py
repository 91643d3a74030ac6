"""The pretrained-backbone report: held-out VQA accuracy, native attention peaks, the pretraining record.

``report(DIR)`` writes ``DIR/report.json`` and ``DIR/REPORT.md`` and prints the markdown:

1. VQA: questions of each ``qa_kind`` about held-out SynthParts scenes (another split and seed than
   pretraining), each asked alone in the model's chat format (``Backbone.generate``: one user turn
   with the image, generation prompt), greedy decoding, exact match after ``normalize_answer``;
   plus Car-Parts questions about the TEST photos (same generator as the training photos).
2. Attention peaks (``peaks.py``): part-colour questions and direct pointing instructions about
   the same parts; heads chosen on half the scenes, rates reported on the other half.
3. Five fixed questions about fixed images, with the model's answers as text.
4. The key probe (``probe.py``): a per-``object:part`` linear probe on the image keys of the capture
   layers, for this backbone and (``probe_baseline``) another one on the same scenes.
5. The pretraining / alignment record (``pretrain.json`` or ``alignment.json``) and file sizes.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np

from partpoint.data.paths import SHARED_DATA

from .heldout import (
    QA_KINDS,
    answers_match,
    heldout_scenes,
    normalize_answer,
    part_color_target,
    sample_questions,
)
from .peaks import PeakTarget, peak_records, summarize_peaks
from .report_md import render_markdown

CARPARTS_TEST = str(SHARED_DATA / "carparts" / "testset")
_REPO = Path(__file__).resolve().parents[1]
#: (image, question) pairs answered verbatim in every report (images of the repository and the shared data).
FIXED_QUESTIONS = (
    (_REPO / "examples/images/test_000001_0-knife-handle.jpg", "What object is in this image?"),
    (_REPO / "examples/images/test_000000_0-lamp-shade.jpg", "What colour is the shade of the lamp?"),
    (_REPO / "examples/images/test_000004_1-scissors-handles.jpg", "Which part of the scissors do you hold?"),
    (Path(CARPARTS_TEST) / "JPEGImages/car10.jpg", "How many wheels of the car can you see?"),
    (Path(CARPARTS_TEST) / "JPEGImages/car10.jpg", "Describe this image in one sentence."),
)
CAR_KINDS = ("car_visible", "car_wheels", "car_view")


def _answer_budget(tokenizer, answers) -> int:
    """max_new_tokens: the longest expected answer's token count + 1 (its end-of-turn marker), at least 4."""
    longest = max((len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers), default=1)
    return max(4, longest + 1)


def _ask(backbone, asked, *, max_new_tokens: int, progress: bool, desc: str) -> dict:
    """``asked``: [(image loader, QA)] -> per-kind accuracy plus the first few wrong answers.

    Each kind also gets its majority-answer baseline (the most frequent expected answer and the
    accuracy of always giving it), so an accuracy can be read against answering blindly.
    """
    from collections import Counter

    from tqdm import tqdm

    per_kind: dict[str, dict] = {}
    wrong = []
    for load, qa in tqdm(asked, desc=desc, disable=not progress):
        text = backbone.generate(load(), qa.question, max_new_tokens=max_new_tokens).text
        ok = answers_match(text, qa.answer)
        stats = per_kind.setdefault(qa.kind, {"n": 0, "correct": 0})
        stats["n"] += 1
        stats["correct"] += int(ok)
        if not ok and len(wrong) < 12:
            wrong.append({"question": qa.question, "answer": qa.answer, "predicted": text})
    for kind, stats in per_kind.items():
        stats["accuracy"] = stats["correct"] / stats["n"]
        answer, count = Counter(normalize_answer(qa.answer) for _, qa in asked if qa.kind == kind).most_common(1)[0]
        stats["majority_answer"], stats["majority_rate"] = answer, count / stats["n"]
    return {"per_kind": per_kind, "examples_wrong": wrong}


def synth_vqa(backbone, scenes, *, max_questions: int, seed: int, progress: bool) -> dict:
    """Accuracy per SynthParts question type on ``scenes`` (up to ``max_questions // 6`` per type)."""
    asked = sample_questions(scenes, per_kind=max(1, max_questions // len(QA_KINDS)), seed=seed)
    budget = _answer_budget(backbone.processor.tokenizer, [qa.answer for _, qa in asked])
    result = _ask(backbone, [(scenes[i].image, qa) for i, qa in asked], max_new_tokens=budget, progress=progress,
                  desc="held-out VQA")
    result["per_kind"] = {kind: result["per_kind"][kind] for kind in QA_KINDS if kind in result["per_kind"]}
    result["max_new_tokens"] = budget
    return result


def carparts_vqa(backbone, *, root: str, max_questions: int, seed: int, progress: bool) -> dict:
    """Accuracy per Car-Parts question type on the photos under ``root`` (the TEST set: never trained on)."""
    from PIL import Image

    from .carparts_qa import car_questions, load_car_photos

    photos, names = load_car_photos(root)
    rng = random.Random(seed)
    pool = {kind: [] for kind in CAR_KINDS}
    for photo in photos:
        for qa in car_questions(photo, names, rng=rng):
            pool[qa.kind].append((lambda path=photo.path: Image.open(path).convert("RGB"), qa))
    asked = []
    for kind in CAR_KINDS:
        rng.shuffle(pool[kind])
        asked += pool[kind][: max(1, max_questions // len(CAR_KINDS))]
    budget = _answer_budget(backbone.processor.tokenizer, [qa.answer for _, qa in asked])
    result = _ask(backbone, asked, max_new_tokens=budget, progress=progress, desc="Car-Parts test QA")
    result["photos"] = len(photos)
    return result


def peak_targets(scenes, *, split: str, max_targets: int, seed: int) -> list[PeakTarget]:
    """One part-colour question and one direct instruction (slot 2 of ``build_instructions``) per sampled part."""
    from partpoint.data.synth import build_instructions

    parts = []
    for index, scene in enumerate(scenes):
        for qa in scene.qas:
            target = part_color_target(scene.graph, qa.question) if qa.kind == "part_color" else None
            if target is not None:
                parts.append((index, *target, qa.question))
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(parts), size=min(max_targets, len(parts)), replace=False)) if parts else []
    targets = []
    for i in keep:
        index, instance, part, question = parts[int(i)]
        obj = scenes[index].graph["objects"][instance]
        texts, _ = build_instructions(category=obj["category"], part=part, refexp=obj["refexp"], split=split, rng=rng)
        targets.append(PeakTarget(index, instance, part, question, "part_color"))
        targets.append(PeakTarget(index, instance, part, texts[2], "direct"))
    return targets


def fixed_answers(backbone, *, max_new_tokens: int = 32) -> list[dict]:
    """The model's greedy answers to :data:`FIXED_QUESTIONS` (skipping images that are not on disk)."""
    from PIL import Image

    rows = []
    for path, question in FIXED_QUESTIONS:
        if not path.is_file():
            continue
        text = backbone.generate(Image.open(path).convert("RGB"), question, max_new_tokens=max_new_tokens).text
        rows.append({"image": path.name, "question": question, "answer": text.strip()})
    return rows


def pretraining_record(backbone_dir: str, weights_dir: str | None = None) -> dict:
    """``pretrain.json`` (or ``alignment.json``) minus its file list, plus the weights' and the folder's sizes."""
    path = Path(backbone_dir)
    record = {}
    for name in ("pretrain.json", "alignment.json"):
        if (path / name).is_file():
            record = json.loads((path / name).read_text())
            record["record_file"] = name
            record.pop("files", None)
            break
    path = Path(weights_dir or backbone_dir)
    weights = path / "model.safetensors"
    record["weights_bytes"] = weights.stat().st_size if weights.is_file() else None
    record["folder_bytes"] = sum(f.stat().st_size for f in path.iterdir()
                                 if f.is_file() and f.name not in ("REPORT.md", "report.json"))
    return record


def report(backbone_dir: str, *, out_dir: str | None = None, n_scenes: int = 150, seed: int = 1000,
           split: str = "val", max_questions: int = 600, max_peak_targets: int = 300, car_questions: int = 150,
           carparts_root: str | None = CARPARTS_TEST, probe_layers: list[int] | None = None,
           probe_baseline: str | None = None, probe_baseline_layers: list[int] | None = None, device: str = "cpu", dtype=None,
           threads: int = 2, progress: bool = True, echo: bool = True) -> dict:
    """Evaluate the backbone ``backbone_dir`` (a folder or a default name); write ``report.json`` +
    ``REPORT.md`` into ``out_dir`` (default: the backbone folder); return the dict."""
    import torch

    from partpoint.backbones import load_backbone

    from .probe import key_probe, vision_probe

    torch.set_num_threads(threads)
    started = time.monotonic()
    backbone = load_backbone(str(backbone_dir), device=device, dtype=dtype)
    weights_dir = str(backbone.model.name_or_path or backbone_dir)
    out_dir = str(out_dir or backbone_dir)
    scenes = heldout_scenes(n_scenes, seed=seed, split=split, progress=progress)
    timings = {}
    t0 = time.monotonic()
    vqa = synth_vqa(backbone, scenes, max_questions=max_questions, seed=seed, progress=progress)
    timings["synth_vqa_s"] = round(time.monotonic() - t0, 1)
    car = {"skipped": "no Car-Parts test set given"}
    if carparts_root and car_questions > 0 and os.path.isfile(os.path.join(carparts_root, "annotations.json")):
        t0 = time.monotonic()
        car = carparts_vqa(backbone, root=carparts_root, max_questions=car_questions, seed=seed, progress=progress)
        timings["carparts_vqa_s"] = round(time.monotonic() - t0, 1)
    elif carparts_root and car_questions > 0:
        car = {"skipped": f"no annotations.json in {carparts_root}"}
    t0 = time.monotonic()
    targets = peak_targets(scenes, split=split, max_targets=max_peak_targets, seed=seed)
    attention = {}
    for source in ("part_color", "direct"):
        chosen = [t for t in targets if t.source == source]
        attention[source] = summarize_peaks(peak_records(backbone, scenes, chosen, progress=progress))
    timings["attention_s"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    fixed = fixed_answers(backbone)
    layers = probe_layers or sorted({0, 2, 4, 6, 8} & set(range(backbone.num_layers)))
    probe = {"this": key_probe(backbone, scenes, layers=layers, progress=progress)}
    if backbone.arch == "llava":  # which vision_feature_layer: the tower's last hidden states vs its final norm
        probe["vision_tower"] = vision_probe(backbone, scenes, progress=progress)
    if probe_baseline:
        baseline = load_backbone(probe_baseline, device=device, dtype=dtype)
        base_layers = probe_baseline_layers or list(range(min(baseline.num_layers, 6)))
        probe["baseline"] = {"backbone": str(probe_baseline),
                             **key_probe(baseline, scenes, layers=base_layers, progress=progress)}
        del baseline
    timings["probe_s"] = round(time.monotonic() - t0, 1)
    timings["total_s"] = round(time.monotonic() - started, 1)
    result = {
        "backbone": str(backbone_dir),
        "arch": backbone.arch,
        "fingerprint": backbone.fingerprint,
        "heldout": {"split": split, "seed": seed, "scenes": n_scenes,
                    "pretraining_splits": "train / train-single (seed from pretrain.json)"},
        "vqa": vqa,
        "carparts_test": car,
        "attention": attention,
        "fixed_questions": fixed,
        "key_probe": probe,
        "pretraining": pretraining_record(out_dir, weights_dir),
        "dtype": str(backbone.model.dtype).removeprefix("torch."),
        "threads": threads,
        "timings": timings,
    }
    markdown = render_markdown(result)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
        f.write(markdown)
    if echo:
        print(markdown)
    return result
