"""``docs/RESULTS.md`` from the json files of one run. Every number printed here is read from those files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PARTS = ("machine", "settings", "accuracy", "ablations", "speed", "gallery", "fidelity", "learning_curve", "grid_size",
         "confidence", "by_example", "lr_mix", "vision_head")
METHOD_NAMES = {"text": "text pointing", "attention": "attention pointing", "ours": "ours (PartPointer)",
                "center": "image centre", "random": "random"}


def load_results(results_dir: Path) -> dict:
    """``{part: json or None}`` for every part of a run."""
    out = {}
    for part in PARTS:
        path = Path(results_dir) / f"{part}.json"
        out[part] = json.loads(path.read_text()) if path.is_file() else None
    return out


def _unavailable(part: dict | None) -> list[str]:
    """The lines a section shows instead of its table when its part did not run or was skipped ([] otherwise)."""
    if part is None:
        return ["Not run.", ""]
    if "skipped" in part:
        return [f"Skipped: {part['skipped']}", ""]
    return []


def _num(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _num3(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


#: What a default backbone is, shown beside its name in the tables (README "Bundled defaults").
BACKBONE_NOTES: dict[str, str] = {}


def machine_section(machine: dict, settings: dict) -> list[str]:
    lines = ["## Machine", "",
             f"{settings['mode']} run on {machine['date_utc']}, git commit `{machine['git_commit']}`: "
             f"{machine['cores']} cores ({machine['cpu_model']}), torch {machine['torch']} "
             f"({machine['torch_threads']} threads), transformers {machine['transformers']}, "
             f"Python {machine['python']}, {machine['platform']}, GPU {machine.get('gpu') or 'none'}; backbones on "
             f"{settings.get('device', 'cpu')} in dtype {settings.get('dtype', 'float32')}. Every backbone is the one "
             "of that commit.", ""]
    if settings["mode"] == "quick":
        lines += [f"**Quick run**: at most {settings['cap']} samples per cell ({settings['text_cap']} for text "
                  "pointing) and a short ablation budget; n is given in every cell. `make bench` runs the full "
                  "version.", ""]
    if settings["mode"] == "tiny":
        lines += ["**Tiny stand-ins**: random-weight backbones and pointers trained for seconds. These numbers "
                  "test the harness only and say nothing about the method.", ""]
    return lines


def accuracy_section(accuracy: dict | None, settings: dict) -> list[str]:
    lines = ["## 1. Main table (zero-shot pointing)", ""]
    lines += provenance(accuracy)
    if _unavailable(accuracy):
        return lines + _unavailable(accuracy)
    lines += [f"Cells: hit rate % / patch accuracy % (n samples). At most {accuracy['cap']} samples per cell "
              f"({accuracy['text_cap']} for text pointing: greedy generation is slow), evenly spaced over the "
              "dataset, the same samples for every method. SynthParts test is generated with seed "
              f"{settings['synth_test_seed']} ({settings['synth_test_scenes']} scenes; nobody trains or tunes on it). "
              "Text pointing: unparsed answers are misses; their count is in brackets.", ""]
    for name, why in accuracy["skipped_backbones"].items():
        lines += [f"- **{name} skipped**: {why}"]
    for cell in accuracy["cells"]:
        if cell["missing"]:
            lines += [f"- **{cell['name']} skipped**: {cell['missing']}"]
    lines += [""]
    names = [c["name"] for c in accuracy["cells"] if not c["missing"]]
    backbones = list(dict.fromkeys(r["backbone"] for r in accuracy["results"]))
    index = {(r["backbone"], r["dataset"], r["method"]): r for r in accuracy["results"]}
    for backbone in backbones:
        note = f" ({BACKBONE_NOTES[backbone]})" if backbone in BACKBONE_NOTES else ""
        lines += [f"### {backbone}{note}", "", "| method | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for method in accuracy["methods"]:
            row = []
            for name in names:
                r = index.get((backbone, name, method))
                if r is None:
                    row.append("–")
                    continue
                text = f"{_pct(r['hit_rate'])} / {_pct(r['patch_acc'])} (n={r['n']})"
                if r.get("unparsed") is not None:
                    text += f" [{r['unparsed']} unparsed]"
                row.append(text)
            lines.append(f"| {METHOD_NAMES.get(method, method)} | " + " | ".join(row) + " |")
        lines += [""]
    return lines


def ablation_section(ablations: dict | None) -> list[str]:
    lines = ["## 2. Ablations", ""]
    lines += provenance(ablations)
    if _unavailable(ablations):
        return lines + _unavailable(ablations)
    d = ablations["defaults"]
    lines += [f"Backbone {ablations['backbone']}; every variant trains from ONE feature cache of the top-"
              f"{len(ablations['heads'])} heads {ablations['heads']} (a k < {len(ablations['heads'])} run keeps the "
              f"first k by votes), with the same budget: {ablations['train_samples']} SynthParts train samples "
              f"(seed 0), {ablations['epochs']} epochs, batch {ablations['batch_size']}. Scored on "
              f"{ablations['val_samples']} SynthParts **val** samples (seed 1; not the test split) by the cached hit "
              "test (heatmap peak inside the part mask sampled 8 x 8 per grid cell). "
              f"Defaults: tau={d['tau']:g}, gamma={d['gamma']:g}, lambda={d['lam']:g}. Outside distance: mean "
              "distance (patches) from the point to the part, 0 inside -- what the SDF term penalises.", "",
              "| variant | k | val hit % | val outside distance | final train loss | steps | train s |",
              "|---|---|---|---|---|---|---|"]
    for run in ablations["runs"]:
        lines.append(f"| {run['name']} | {run['k']} | {_pct(run['val_hit_rate'])} | "
                     f"{_num(run.get('val_outside_distance'))} | {run['final_loss']:.3f} | {run['steps']} | "
                     f"{run['wall_s']:.1f} |")
    distances = ablations.get("attention_val_outside_distance", {})
    attention = ", ".join(f"k={k}: {_pct(v)}" + (f" (outside distance {_num(distances[k])})" if k in distances else "")
                          for k, v in ablations["attention_val_hit_rate"].items())
    lines += ["", f"Attention pointing on the same val items (no training): {attention}."]
    if "centre_val" in ablations:
        centre = ablations["centre_val"]
        lines += [f"Image centre: {_pct(centre['hit_rate'])} (outside distance {_num(centre['outside_distance'])})."]
    return lines + [""]


def speed_section(speed: dict | None) -> list[str]:
    lines = ["## 4. Speed and memory", ""]
    lines += provenance(speed)
    if _unavailable(speed):
        return lines + _unavailable(speed)
    m, t, tokens = speed["medians_s"], speed["targets"], speed["text_tokens"]

    def verdict(key: str) -> str:
        return f"target {t[key]['op']} {t[key]['value']:g}: **{'met' if t[key]['met'] else 'NOT met'}**"

    inp = speed["input"]
    lines += [f"Backbone {speed['backbone']}, one process, one SynthParts test image {inp['image_size']} "
              f"(\"{inp['instruction']}\"); medians of {speed['runs']} interleaved runs after {speed['warmup']} "
              "warm-up runs.", "",
              "| ratio | value | raw medians | target |", "|---|---|---|---|",
              f"| point_over_floor | {speed['point_over_floor']:.2f} | point() {1000 * m['point']:.1f} ms / floor "
              f"{1000 * m['floor']:.1f} ms (forward truncated after layer {inp['deepest_layer']} of "
              f"{inp['num_layers']}) | {verdict('point_over_floor')} |",
              f"| text_over_point | {speed['text_over_point']:.2f} | text pointing {1000 * m['text_pointing']:.1f} ms "
              f"/ point() {1000 * m['point']:.1f} ms; the backbone wrote {tokens['generated']} tokens "
              f"| {verdict('text_over_point')} |",
              f"| text_over_point_min_answer | {speed['text_over_point_min_answer']:.2f} | text pointing forced to "
              f"{tokens['min_answer']} tokens (the shortest well-formed answer) "
              f"{1000 * m['text_pointing_min_answer']:.1f} ms / point() {1000 * m['point']:.1f} ms | (context) |",
              f"| cache_speedup | {speed['cache_speedup']:.1f} | recompute {1000 * speed['recompute_s_per_sample']:.1f} "
              f"ms/sample (measured on {speed['recompute_samples']} samples, scaled per sample) / cached "
              f"{1000 * speed['cached_epoch_s_per_sample']:.2f} ms/sample (median epoch of "
              f"{speed['cached_epoch_samples']} samples after a warm-up epoch) | {verdict('cache_speedup')} |",
              *([f"| multi_over_single | {speed['multi_over_single']:.2f} | point(image, 5 instructions) "
                 f"{1000 * m['point_five']:.1f} ms (image prefix once) / point() {1000 * m['point']:.1f} ms; "
                 f"without the reuse {speed['multi_over_single_without_reuse']:.2f} | {verdict('multi_over_single')} |"]
                if "multi_over_single" in speed else []), "",
              f"Where point() time goes: encode + capture {1000 * m['encode_capture']:.1f} ms, pointer head "
              f"(gather, Q-Synth, A2P, peak) {1000 * m['pointer_head']:.2f} ms.", "",
              *_fresh_memory_lines(speed),
              f"Growth in the benchmark process (after warm-up, i.e. steady state): point() "
              f"{speed['point_memory']['peak_delta_mib']:.1f} MiB, one cached training epoch "
              f"{speed['train_memory']['peak_delta_mib']:.1f} MiB above the resident size before each (process "
              f"peak {speed['point_memory']['peak_mib']:.0f} and {speed['train_memory']['peak_mib']:.0f} MiB); "
              f"method: {speed['point_memory']['method']}.", ""]
    bad = [key for key in t if not t[key]["met"]]
    if bad:
        lines += ["Targets not met: " + ", ".join(bad) + ". " + speed.get("explanation", ""), ""]
    return lines


def _fresh_memory_lines(speed: dict) -> list[str]:
    """Peak memory of point() and of one training epoch, each measured in a fresh process."""
    point, train = speed.get("point_memory_fresh"), speed.get("train_memory_fresh")
    if not point or not train:
        return []
    if "error" in point or "error" in train:
        return [f"Fresh-process peak memory not measured: {point.get('error') or train.get('error')}.", ""]
    return [f"Peak memory, each in a fresh process: point() peaks at {point['peak_mib']:.0f} MiB "
            f"({point['loaded_mib']:.0f} MiB with backbone and pointer loaded, +{point['peak_over_loaded_mib']:.0f} "
            f"MiB for the first call); one training epoch from the feature cache peaks at {train['peak_mib']:.0f} "
            f"MiB ({train['loaded_mib']:.0f} MiB with the cache loaded, +{train['peak_over_loaded_mib']:.0f} MiB "
            "while training).", ""]


def gallery_section(gallery: dict | None, docs_dir: Path) -> list[str]:
    lines = ["## 3. Gallery", ""]
    lines += provenance(gallery)
    if _unavailable(gallery):
        return lines + _unavailable(gallery)
    sources = ", ".join(f"{s['source']} `{s['key']}`" for s in gallery["samples"])
    name = Path(gallery["path"]).name
    return lines + [f"![gallery]({name})", "", f"{gallery['backbone']}, left ours, right attention pointing; "
                    f"{gallery['legend']}. Samples: {sources}.", ""]


def provenance(part: dict | None) -> list[str]:
    """A line naming the run of a part written by a later ``--only`` run (its machine record differs)."""
    run = (part or {}).get("run")
    if not run:
        return []
    return [f"*From a later `--{run['mode']} --only {' '.join(run['only'])}` run on {run['date_utc']}, git commit "
            f"`{run['git_commit']}` (its backbones are that commit's), not the run named under Machine.*", ""]


def fidelity_section(fidelity: dict | None) -> list[str]:
    lines = ["## 5. Fidelity to the reference code", ""]
    if _unavailable(fidelity):
        return lines + _unavailable(fidelity)
    lines += provenance(fidelity)
    lines += [f"{fidelity['samples']} samples of {fidelity['dataset']}, every layer captured. **Head agreement**: "
              f"each sample's top-{fidelity['k']} heads under partpoint's rules against the reference code's per-sample "
              "rule (LocalizationHeads `analyze.py`, restated in `benchmarks/fidelity.py`); mean share of the reference's "
              "picks that partpoint also picks (exact: ordered lists equal). **Attention pointing**: hit rate with the "
              "bundled pointer's heads (raw maps summed, reflect padding, as the reference). On a non-square grid the "
              "reference code itself fails; there its rule is applied on the real grid.", "",
              "| backbone | samples scored | agreement | exact | attention hit |", "|---|---|---|---|---|"]
    for name, b in fidelity["backbones"].items():
        scored = f"{b['scored']}" + (f" ({b['non_square']} on a non-square grid)" if b.get("non_square") else "")
        lines.append(f"| {name} | {scored} | {_num(b['agreement'])} | {_num(b['exact'])} | "
                     f"{_pct(b['attention_hit_rate'])} |")
    return lines + [""]


def learning_curve_section(curve: dict | None) -> list[str]:
    lines = ["## 6. Your own objects: learning curves", ""]
    if curve is None:
        return lines + ["Not run (`python -m benchmarks.learning_curve`).", ""]
    best = curve.get("leave_out") or {}
    lines += ["From `python -m benchmarks.learning_curve` (its own run, not the one under Machine). Pointers trained "
              "on the first N training images (a seeded order) with `partpoint train`'s defaults (10 epochs, at "
              f"least {curve['min_steps']} and at most {curve['max_steps']} steps), from scratch or fine-tuned "
              "from a leave-out pointer (trained like the bundled one on SynthParts + Clothing Co-Parsing only, "
              f"SynthParts val {_pct(best.get('val_hit_rate'))}%: these photos are new to it, as your objects "
              "are); test hit rate by the cached hit test. Plot: [learning_curve.png](learning_curve.png).", ""]
    for cur in curve["curves"]:
        sizes = sorted({r["images"] for r in cur["runs"]})
        lines += [f"**{cur['dataset']}** ({cur['n_test']} test samples; {cur['train_images']} training images)", "",
                  "| hit rate % | " + " | ".join(f"{n} images" for n in sizes) + " |",
                  "|---|" + "---|" * len(sizes)]
        for start in ("scratch", "fine-tuned"):
            by = {r["images"]: r for r in cur["runs"] if r["start"] == start}
            lines.append(f"| {start} | " + " | ".join(_pct(by[n]["test_hit_rate"]) if n in by else "–"
                                                     for n in sizes) + " |")
        lines += ["", "Same test samples: " + ", ".join(f"{name} {_pct(v)}%" for name, v in cur["baselines"].items())
                  + ".", ""]
    box = curve.get("box_targets")
    if box:
        lines += [f"**Box targets** (DoorDetect handles; {box['train_images']} training images, scored against the "
                  f"box on {box['val_images']} held-out training images, {box['n_val']} samples): "
                  + ", ".join(f"{r['target']} {_pct(r['val_hit_rate'])}%" for r in box["runs"]) + ".", ""]
    return lines


def grid_size_section(grid: dict | None) -> list[str]:
    lines = ["## 7. Grid size", ""]
    if grid is None:
        return lines + ["Not run (`python -m benchmarks.grid_size`).", ""]
    lines += ["From `python -m benchmarks.grid_size` (its own run): the same pointer recipe (10 epochs, bundled "
              f"heads) on {grid['train_scenes']} SynthParts train scenes, best epoch on {grid['val_scenes']} val "
              "scenes (cached hit test); the 336 px backbone is default-llava with its processor at 336 px, "
              "the projector not re-aligned.", "",
              "| input | grid | best val hit % (epoch) | caching samples/s | training s | point() ms |",
              "|---|---|---|---|---|---|"]
    for run in grid["runs"]:
        best = run["best"]
        rate = run["train_samples"] / run["train_caching_s"]
        lines.append(f"| {run['size']} px | {run['grid'][0]} x {run['grid'][1]} | {_pct(best['val_hit_rate'])} "
                     f"({best['epoch']}) | {rate:.1f} | {run['train_wall_s']:.0f} | "
                     f"{1000 * run['point_median_s']:.0f} |")
    return lines + [""]


CELL_NAMES = {"synth_test": "SynthParts test", "carparts_test": "Car-Parts test", "ccp_test": "CCP test",
              "doordetect_test": "DoorDetect test",
              "instructpart_named": "InstructPart (named)", "instructpart_reason": "InstructPart (reason)"}


def _spec_list(data) -> str:
    """A calibration's val spec(s), pooled when several, as text."""
    if isinstance(data, str) or data is None:
        return str(data)
    return " + ".join(f"`{spec}`" for spec in data) + " (pooled)"


def confidence_section(conf: dict | None) -> list[str]:
    lines = ["## 8. Confidence: calibration, \"not in the image\", several instances", ""]
    if conf is None:
        return lines + ["Not run (`python -m benchmarks.confidence`).", ""]
    ours, run = conf["ours"], conf["run"]
    fitted = ours["calibration"]
    lines += [f"From `python -m benchmarks.confidence` (its own run, git commit `{run['git_commit']}`, "
              f"{run['date_utc']} UTC). The bundled pointer's `calibration.json` was fitted on "
              f"{_spec_list(fitted.get('data'))} "
              f"({fitted.get('samples')} samples, {fitted.get('negatives')} negatives; val ECE "
              f"{_num3(fitted.get('val_ece'))}, absent AUROC {_num3(fitted.get('val_absent_auroc'))}); presence "
              f"threshold {ours['threshold']:.3f}. Test cells: SynthParts test ({run['synth_test']['scenes']} scenes, "
              f"seed {run['synth_test']['seed']}), "
              + (f"the real test splits' first {run['cap']} samples (evenly spaced)" if isinstance(run["cap"], int)
                 else "the real test splits whole but " + ", ".join(f"{CELL_NAMES[k]} ({v} samples, evenly "
                                                                    "spaced)" for k, v in run["cap"].items()))
              + ", InstructPart dev whole; negatives per image: "
              + ", ".join(f"{CELL_NAMES[k]} {v}" for k, v in run["negatives_per_image"].items())
              + ". **ECE floor**: the ECE a perfectly calibrated predictor with the same confidences gets on "
              "the same number of samples (hits drawn from its confidences): sampling noise, not miscalibration; "
              "an ECE near its floor is as calibrated as the cell can show. **90% interval**: bootstrap over the "
              "samples."
              + ("" if "compare_run" not in conf else
                 f" The rows of other pointers come from an earlier run (git commit "
                 f"`{conf['compare_run']['git_commit']}`, {conf['compare_run']['date_utc']} UTC: SynthParts test "
                 f"{conf['compare_run']['synth_test']['scenes']} scenes, the real splits' first "
                 f"{conf['compare_run']['cap']} samples)."), "", "![reliability diagram](reliability.png)", "",
              "| pointer | cell | n | hit % | ECE | ECE floor | ECE 90% interval | negatives | absent AUROC | "
              "false-point % | called absent % |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [("bundled", ours)] + list(conf.get("compare", {}).items())
    for label, run_of in rows:
        for name, cell in run_of["cells"].items():
            lines.append(f"| {label} | {CELL_NAMES.get(name, name)} | {cell['n']} | {_pct(cell['hit_rate'])} | "
                         f"{_num3(cell.get('ece'))} | {_num3(cell.get('ece_floor'))} | "
                         + ("–" if "ece_interval" not in cell else
                            f"{cell['ece_interval'][0]:.3f}–{cell['ece_interval'][1]:.3f}")
                         + f" | {cell.get('negatives', 0)} | {_num3(cell.get('absent_auroc'))} | "
                         f"{_pct(cell.get('false_point_rate'))} | {_pct(cell.get('missed_present_rate'))} |")
    inst = ours.get("instances")
    if inst:
        share = conf.get("peak_share")
        chosen = "" if share is None else (
            f" A further peak is kept when its confidence is at least {share['chosen']:g} of the first's, chosen "
            f"by F1 on {share['data']} groups (" + ", ".join(f"{k}: F1 {v['f1']:.2f}" for k, v in share["scores"].items())
            + "; 1.01: only peaks more confident than the first)."
            + (f" Scored {conf['run']['instances_date_utc']} UTC." if "instances_date_utc" in conf["run"] else ""))
        lines += ["", f"**Several instances** (`Pointer.point_all`; {inst['spec']}): one group per scene and "
                  "object:part, \"Point to the PART of every OBJECT.\"" + chosen, "",
                  "| groups | n | instances | points | precision | recall | F1 | count acc | PointArena hit |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for key, label in (("all", "all"), ("several", "2+ instances")):
            g = inst[key]
            lines.append(f"| {label} | {g['groups']} | {g['instances']} | {g['points']} | {_num(g['precision'])} | "
                         f"{_num(g['recall'])} | {_num(g['f1'])} | {_num(g['count_accuracy'])} | "
                         f"{_num(g['pointarena_hit_rate'])} |")
    return lines + [""]


def by_example_section(example: dict | None, results_dir: Path) -> list[str]:
    lines = ["## 9. Point by example", ""]
    if example is None:
        return lines + ["Not run (`python -m benchmarks.by_example`).", ""]
    val, run = example["val"], example["run"]
    chosen_on = ("Fusion weight chosen by the mean hit rate of three val sets (1 reference each, from the same "
                 "set; a sample with no possible reference counts as a miss): " + "; ".join(
                     f"{name} ({cell['n']}): text only {_pct(cell['ours']['hit_rate'])}%, "
                     + ", ".join(f"{w} {_pct(r['hit_rate'])}%" for w, r in cell["weights"].items())
                     for name, cell in val.items())
                 + "; mean: " + ", ".join(f"{w} {_pct(v)}%" for w, v in example["val_mean"].items())
                 + f" -> **{example['chosen_weight']}**. The held photos are the 10% of the Car-Parts and CCP training "
                 "photos that hash into `%held10`, which neither the pointer nor its presence head trained on.")
    if all("referenced" in r for cell in val.values() for r in cell["weights"].values()):
        def rate(run: dict, keys: list) -> float:
            return float(np.mean([run["hits"][k] for k in keys])) if keys else float("nan")

        first = {name: next(iter(cell["weights"].values()))["referenced"] for name, cell in val.items()}
        means = {"text only": np.mean([rate(cell["ours"], first[name]) for name, cell in val.items()])}
        means |= {w: np.mean([rate(cell["weights"][w], first[name]) for name, cell in val.items()])
                  for w in next(iter(val.values()))["weights"]}
        chosen_on += (" On the samples that have a reference (" + ", ".join(f"{name} {len(keys)}" for name, keys
                                                                            in first.items())
                      + "), mean: " + ", ".join(f"{w} {_pct(v)}%" for w, v in means.items()) + ".")
    lines += [f"From `python -m benchmarks.by_example` (git commit `{run['git_commit']}`, {run['date_utc']} UTC). "
              + chosen_on + " Test: references of the same object:part from the same split, never the target's "
              "image (seed 0), fused with the instruction; ours (the instruction alone) on the same samples, "
              "attention pointing from `scripts/eval_targets.sh`. A sample with no possible reference counts as a "
              "miss of the example method; the last columns compare the two on the samples that have one.", "",
              "| cell | n | attention pointing | ours (text) | ours + 1 reference | ours + 3 references "
              "| with a reference: n | ours (text) | + 1 reference | + 3 references |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, cell in example["cells"].items():
        def target(method: str) -> str:  # the run's own copy, else results/targets (the same pointer then)
            if method in cell:
                return _pct(cell[method])
            path = Path(results_dir) / "targets" / f"{name}_{method}.json"
            return _pct(json.loads(path.read_text())["hit_rate"]) if path.is_file() else "–"

        subset = [cell[k].get("with_reference") for k in ("k1", "k3")]
        shared = (f"{subset[0]['n']} | {_pct(subset[0]['ours'])} | {_pct(subset[0]['example'])} | "
                  f"{_pct(subset[1]['example'])}" if all(subset) else "– | – | – | –")
        lines.append(f"| {CELL_NAMES.get(name, name)} | {cell['k1']['n']} | {target('attention')} | "
                     f"{target('ours')} | {_pct(cell['k1']['hit_rate'])} | {_pct(cell['k3']['hit_rate'])} | "
                     f"{shared} |")
    others = {name: cell for name, cell in example["cells"].items() if "k1_alone" in cell and "k1_click" in cell}
    if others:
        lines += ["", "One reference without the instruction (`alone`), and one marked by a single click at its "
                  "mask's innermost pixel instead of the mask, fused with the instruction (`click`); hit % over "
                  "the samples that have a reference:", "",
                  "| cell | n | ours (text) | 1 reference (mask) + text | 1 reference alone | 1 click + text "
                  "| alone: confidence ECE (floor), AUROC | + text: ECE (floor) |",
                  "|---|---|---|---|---|---|---|---|"]

        def rated(run: dict, auroc: bool) -> str:
            if "ece" not in run:
                return "–"
            return (f"{run['ece']:.3f} ({run['ece_floor']:.3f})"
                    + (f", {run['confidence_auroc']:.2f}" if auroc else ""))

        for name, cell in others.items():
            alone, click, mask = (cell[k]["with_reference"] for k in ("k1_alone", "k1_click", "k1"))
            lines.append(f"| {CELL_NAMES.get(name, name)} | {mask['n']} | {_pct(mask['ours'])} | "
                         f"{_pct(mask['example'])} | {_pct(alone['example'])} | {_pct(click['example'])} | "
                         f"{rated(cell['k1_alone'], True)} | {rated(cell['k1'], False)} |")
    descriptors = Path(results_dir) / "example_descriptors.json"
    if descriptors.is_file():
        found = json.loads(descriptors.read_text())
        keys = list(found["mean"])
        lines += ["", f"**Which cell features and matching find the reference part** (`python -m "
                  f"benchmarks.example_descriptors`, {found['date_utc']} UTC; the val sets above, from the feature "
                  "caches, 1 reference each; hit %): the vision tower's patches, the backbone's keys at the "
                  "pointer's layer (the k heads' KV heads; post-RoPE, so they also match positions) and the "
                  "pointer's vision-head keys (used); matched by cosine to the part's mean cell (`mean`) or by "
                  "soft nearest neighbours carrying the reference's cell labels (`transfer`, used); alone, or "
                  f"fused with the instruction's heatmap at weight {found.get('weight', '–')}.",
                  "", "| variant | " + " | ".join(f"{name} ({cell['n']})" for name, cell in found["val"].items())
                  + " | mean |", "|---|" + "---|" * (len(found["val"]) + 1)]
        for key in keys:
            lines.append(f"| {key} | " + " | ".join(_pct(cell["hit_rate"][key]) for cell in found["val"].values())
                         + f" | {_pct(found['mean'][key])} |")
    return lines + [""]


def lr_mix_section(sweep: dict | None) -> list[str]:
    lines = ["## 10. Learning rate and data mix (reduced scale)", ""]
    if sweep is None:
        return lines + ["Not run (`python -m benchmarks.lr_mix`).", ""]
    subset = ", ".join(f"{k} {v}" for k, v in sweep["subset"].items())
    lines += [f"From `python -m benchmarks.lr_mix` ({sweep['date_utc']} UTC): pointers trained from scratch for "
              f"{sweep['epochs']} epochs on an evenly spaced subset of the scale run's cached data ({subset} samples), "
              f"scored on SynthParts val ({sweep['synth_val_n']}) and on a real val: {sweep['real_val_n']} samples of "
              f"the Clothing Co-Parsing training photos held out of every run here ({sweep['real_val_percent']}% by "
              "name hash). At this scale one standard error is about 1.3 (SynthParts) and 2 (CCP) points.", "",
              "| run | mix | lr | training samples | SynthParts val % | CCP held-out % | mean % |",
              "|---|---|---|---|---|---|---|"]
    for r in sweep["runs"]:
        lines.append(f"| {r['label']} | {' + '.join(r['mix'])} | {r['lr']:g} | {r['train_items']} | "
                     f"{_pct(r['synth_val'])} | {_pct(r['real_val'])} | {_pct(r['mean_val'])} |")
    return lines + [""]


def vision_section(found: dict | None) -> list[str]:
    lines = ["## 11. The vision head (reduced scale)", ""]
    if found is None:
        return lines + ["Not run (`python -m benchmarks.vision_head`).", ""]
    subset = ", ".join(f"{k} {v}" for k, v in found["subset"].items())
    names = list(found["val_n"])
    lines += [f"From `python -m benchmarks.vision_head` ({found['date_utc']} UTC): pointers trained from scratch "
              f"for {found['epochs']} epochs on an evenly spaced subset of the kept {100 - found['hold_out_percent']}% "
              f"of each training set ({subset} samples), scored on SynthParts val and on the Car-Parts and CCP "
              "training photos held out by name hash (never trained on here). The full-scale run is in "
              "`checkpoints/scale/train_log.json` (docs/METHOD.md, section 4b).", "",
              "| pointer | " + " | ".join(f"{n} ({found['val_n'][n]}) %" for n in names) + " | mean % | train s |",
              "|---|" + "---|" * (len(names) + 2)]
    for r in found["runs"]:
        lines.append(f"| {r['label']} | " + " | ".join(_pct(r["val"][n]) for n in names)
                     + f" | {_pct(r['mean_val'])} | {r['wall_s']:.0f} |")
    return lines + [""]


def write_report(results_dir: Path, out_path: Path) -> Path:
    """Render every section from ``results_dir/*.json`` into ``out_path`` (Markdown)."""
    parts = load_results(results_dir)
    if parts["machine"] is None or parts["settings"] is None:
        raise FileNotFoundError(f"{results_dir} lacks machine.json / settings.json; run benchmarks/run.py first")
    settings = parts["settings"]
    lines = ["# Results", "",
             f"Generated by `python -m benchmarks.run --{settings['mode']}` from `results/*.json` of the same run; "
             "do not edit by hand.", ""]
    lines += machine_section(parts["machine"], settings)
    lines += accuracy_section(parts["accuracy"], settings)
    lines += ablation_section(parts["ablations"])
    lines += gallery_section(parts["gallery"], out_path.parent)
    lines += speed_section(parts["speed"])
    lines += fidelity_section(parts["fidelity"])
    lines += learning_curve_section(parts["learning_curve"])
    lines += grid_size_section(parts["grid_size"])
    lines += confidence_section(parts["confidence"])
    lines += by_example_section(parts["by_example"], results_dir)
    lines += lr_mix_section(parts["lr_mix"])
    lines += vision_section(parts["vision_head"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines))
    return out_path
