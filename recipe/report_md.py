"""Markdown rendering of the backbone report dict (``report.report``)."""

from __future__ import annotations


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _accuracy_table(per_kind: dict) -> list[str]:
    lines = ["| question type | n | accuracy | majority-answer baseline |", "|---|---:|---:|---:|"]
    lines += [f"| {kind} | {s['n']} | {_pct(s['accuracy'])} | {_pct(s['majority_rate'])} ({s['majority_answer']}) |"
              for kind, s in per_kind.items()]
    n = sum(s["n"] for s in per_kind.values())
    if n:
        macro = sum(s["accuracy"] for s in per_kind.values()) / len(per_kind)
        blind = sum(s["majority_rate"] for s in per_kind.values()) / len(per_kind)
        lines.append(f"| all (macro mean) | {n} | {_pct(macro)} | {_pct(blind)} |")
    return lines


def _attention_section(title: str, summary: dict) -> list[str]:
    base, best = summary["baselines"], summary["best"]
    lines = [
        f"### {title}",
        f"Heads chosen on {summary['n_select']} targets (even-indexed scenes), rates on the other "
        f"{summary['n_report']} (odd-indexed scenes). A hit: the argmax cell of the final prompt token's "
        "attention is an asked-part cell (grid coverage >= 0.5, or the max-coverage cell of a sub-cell part).",
        "",
        "| layer | best head (A) | asked part | mean over heads | sibling part (best head) | asked object | any object |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["per_layer"]:
        lines.append(f"| {row['layer']} | {row['best_head']} | {_pct(row['part'])} | {_pct(row['mean_heads_part'])} | "
                     f"{_pct(row['sibling'])} | {_pct(row['object'])} | {_pct(row['foreground'])} |")
    lines += [
        "",
        f"Best (layer {best['layer']}, head {best['head']}) chosen on A ({_pct(best['select_part'])} there): "
        f"asked part {_pct(best['part'])}, sibling part {_pct(best['sibling'])}, asked object "
        f"{_pct(best['object'])}, any object {_pct(best['foreground'])}; share of its object hits on the asked "
        f"part {_pct(best['part_share_of_object_hits'])}.",
        f"Baselines (half B): uniform chance {_pct(base['chance'])}; sibling chance {_pct(base['sibling_chance'])}; "
        f"uniform over foreground {_pct(base['foreground_uniform'])}; uniform over the asked object "
        f"{_pct(base['object_uniform'])} (compare with the share of object hits).",
        "",
    ]
    return lines


def _probe_table(title: str, probe: dict) -> list[str]:
    base = probe["baselines"]
    lines = [f"**{title}**: {probe['classes']} object:part classes fitted on {probe['n_fit_scenes']} scenes, "
             f"scored on {probe['n_items']} parts of the other scenes (grid {probe['grid'][0]}x{probe['grid'][1]}).",
             "", "| layer | probe hit rate | single-instance items | / foreground-uniform |", "|---:|---:|---:|---:|"]
    for row in probe["layers"]:
        ratio = row["hit_rate"] / base["foreground_uniform"] if base["foreground_uniform"] else float("nan")
        lines.append(f"| {row['layer']} | {_pct(row['hit_rate'])} | {_pct(row['single_instance_hit_rate'])} | "
                     f"{ratio:.2f}x |")
    lines += ["", f"Baselines on the same items: uniform over the foreground {_pct(base['foreground_uniform'])}, "
              f"image centre {_pct(base['centre'])}, chance {_pct(base['chance'])}.", ""]
    return lines


def _fixed_lines(rows: list[dict]) -> list[str]:
    lines = ["| image | question | answer |", "|---|---|---|"]
    for row in rows:
        answer = row["answer"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {row['image']} | {row['question']} | {answer} |")
    return lines + [""]


def _alignment_lines(record: dict) -> list[str]:
    data = record.get("data", {})
    return [
        f"- command: `{record.get('command', '?')}`",
        f"- trained: {record.get('trained')} ({record.get('projector_parameters', 0) / 1e6:.2f}M parameters)",
        f"- steps {record['steps']}, {record.get('train_s', 0) / 60:.1f} min of training "
        f"(+ {record.get('prep_s', 0) / 60:.1f} min rendering and DINOv2 features) at {record.get('threads')} threads "
        f"on {record.get('machine')}; {record.get('dtypes')}",
        f"- loss (answer tokens) {record.get('loss_first_25')} over the first 25 steps -> "
        f"{record.get('loss_last_25')} over the last 25",
        f"- data: {data.get('synth_scenes')} SynthParts train scenes + {data.get('car_photos')} Car-Parts training "
        f"photos, {data.get('qa_pairs')} QA pairs, {data.get('sequences_seen')} sequences seen",
        "",
    ]


def _record_lines(record: dict) -> list[str]:
    if record.get("record_file") == "alignment.json":
        return _alignment_lines(record)
    if "steps" not in record:
        return ["No alignment.json in the folder.", ""]
    data = record.get("data", {})
    mb = (record.get("weights_bytes") or 0) / 1e6
    return [
        f"- command: `{record.get('command', '?')}`",
        f"- steps {record['steps']}, wall time {record.get('wall_s', 0) / 60:.1f} min "
        f"(+ {record.get('prep_s', 0):.0f} s data prep) at {record.get('threads', '?')} threads, "
        f"final loss {record.get('final_loss')}",
        f"- data: {data.get('synth_scenes')} SynthParts scenes + {data.get('car_photos')} Car-Parts photos, "
        f"{data.get('qa_pairs')} QA pairs ({data.get('qa_text_tokens')} text tokens), "
        f"{data.get('sequences_seen')} sequences seen",
        f"- {record.get('parameters', 0) / 1e6:.2f}M parameters, vocab {record.get('vocab_size')}, "
        f"model.safetensors {mb:.1f} MB (folder {record.get('folder_bytes', 0) / 1e6:.1f} MB)",
        "",
    ]


def render_markdown(result: dict) -> str:
    held = result["heldout"]
    vqa, car = result["vqa"], result["carparts_test"]
    lines = [
        f"# Backbone report: {result['backbone']} ({result['arch']}, fingerprint {result['fingerprint']})",
        "",
        f"Held-out SynthParts scenes: split `{held['split']}`, seed {held['seed']}, {held['scenes']} scenes "
        "(pretraining rendered splits `train` / `train-single`). Each question asked alone in the model's chat "
        f"format, greedy decoding (max {vqa['max_new_tokens']} new tokens), exact match after lower-casing and "
        "dropping punctuation.",
        "",
        "## VQA accuracy (held-out SynthParts)",
        *_accuracy_table(vqa["per_kind"]),
        "",
        "## Car-Parts test photos",
    ]
    if "skipped" in car:
        lines += [f"Not run: {car['skipped']}.", ""]
    else:
        lines += [f"{car['photos']} test photos (never trained on).", *_accuracy_table(car["per_kind"]), ""]
    lines += ["## Native attention peaks", ""]
    titles = {"part_color": "Part-colour questions", "direct": "Direct pointing instructions"}
    for source, summary in result["attention"].items():
        lines += _attention_section(titles.get(source, source), summary)
    if result.get("fixed_questions"):
        lines += ["## Five fixed questions (greedy answers, verbatim)", *_fixed_lines(result["fixed_questions"])]
    if result.get("key_probe"):
        lines += ["## Key probe: do the image keys tell parts apart?",
                  "A ridge probe per object:part on the LM's image-token keys (no text; see pretrain/probe.py).", ""]
        lines += _probe_table(f"This backbone ({result['backbone']})", result["key_probe"]["this"])
        if "vision_tower" in result["key_probe"]:
            lines += _probe_table("The vision tower's own patch features (before the projector and the LM)",
                                  result["key_probe"]["vision_tower"])
        if "baseline" in result["key_probe"]:
            base = result["key_probe"]["baseline"]
            lines += _probe_table(f"Baseline backbone ({base['backbone']}), same scenes", base)
    title = "Alignment record" if result["pretraining"].get("record_file") == "alignment.json" else "Pretraining record"
    lines += [f"## {title}", *_record_lines(result["pretraining"])]
    t = result["timings"]
    lines.append(f"Report cost: {t['total_s']:.0f} s at {result['threads']} threads "
                 f"(VQA {t['synth_vqa_s']:.0f} s, attention {t['attention_s']:.0f} s).")
    return "\n".join(lines) + "\n"
