"""End to end: corpus -> tokenizer -> random-init backbone -> packed QA pretraining -> fp16 export.

Output folder layout: the loadable backbone at the top (config, fp16 ``model.safetensors``,
processor, tokenizer, chat template), ``pretrain.json`` (command, seed, steps, wall time, data size,
final loss), and ``_train/`` (the resumable checkpoint and the random-init model), removed after a
successful run unless ``keep_state``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from .corpus import INSTRUCTION_TEMPLATES, Item, carparts_items
from .recipe import Recipe, default_recipe

STATE_DIR = "_train"


def tokenizer_texts(items: list[Item]) -> list[str]:
    """The tokenizer's training text: every QA pair and the toolkit's instruction templates."""
    from ..backbones.tokenizer import BUILTIN_CORPUS

    texts = [f"{qa.question} {qa.answer}" for item in items for qa in item.qas]
    return texts + list(INSTRUCTION_TEMPLATES) + list(BUILTIN_CORPUS)


def special_tokens(arch: str) -> tuple[list[str], dict]:
    from ..backbones.build import QWEN_SPECIAL_TOKENS

    if arch == "llava":
        return ["<pad>", "<s>", "</s>", "<image>"], dict(bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    return list(QWEN_SPECIAL_TOKENS), dict(bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def gather_items(recipe: Recipe, *, seed: int, synth_items=None, progress: bool = True) -> list[Item]:
    """Synth train scenes (``synth_items(n, n_single, seed)``) + Car-Parts training photos."""
    from .synth_source import synth_train_items

    make_synth = synth_items or synth_train_items
    items = list(make_synth(recipe.n_scenes, n_single=recipe.n_single_scenes, seed=seed, progress=progress))
    if recipe.use_carparts:
        items += carparts_items(seed=seed)
    return items


def pretrain(
    arch: str,
    out_dir: str,
    *,
    seed: int = 0,
    recipe: Recipe | None = None,
    threads: int = 2,
    resume: bool = False,
    keep_state: bool = False,
    synth_items=None,
    progress: bool = True,
    checkpoint_every_steps: int | None = None,
    command: str | None = None,
) -> dict:
    """Pretrain ``default_recipe(arch)`` (or ``recipe``) into ``out_dir``; returns the pretrain.json record."""
    import torch

    from ..backbones import adapters  # noqa: F401  (registers the adapters)
    from ..backbones.adapter import adapter_for
    from ..backbones.build import build_tiny_backbone
    from ..backbones.tokenizer import train_bpe
    from .export import export_backbone
    from .loop import LoopConfig, train_loop
    from .packing import ChatPacker
    from .pool import BatchSampler, build_records

    recipe = recipe or default_recipe(arch)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    state_dir = os.path.join(out_dir, STATE_DIR)
    os.makedirs(state_dir, exist_ok=True)
    started = time.monotonic()

    items = gather_items(recipe, seed=seed, synth_items=synth_items, progress=progress)
    specials, roles = special_tokens(arch)
    tokenizer = train_bpe(tokenizer_texts(items), vocab_size=recipe.vocab_size, special_tokens=specials, **roles)
    init_dir = os.path.join(state_dir, "init")
    build_tiny_backbone(arch, init_dir, seed=seed, image_size=recipe.image_size, tokenizer=tokenizer, **recipe.sizes)
    adapter = adapter_for(json.loads(open(os.path.join(init_dir, "config.json")).read())["model_type"])
    model = adapter.model_class().from_pretrained(init_dir, dtype=torch.float32)  # default (fast) attention
    processor = adapter.load_processor(Path(init_dir))

    records = build_records(processor, [tuple(item) for item in items], image_size=recipe.image_size, progress=progress)
    packer = ChatPacker(processor=processor)
    sampler = BatchSampler(records, packer=packer, batch_size=recipe.batch_size, turns=recipe.turns, seed=seed,
                           curriculum_steps=recipe.curriculum_steps)
    prep_s = time.monotonic() - started
    loop = LoopConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=min(recipe.warmup_steps, recipe.steps),
                      checkpoint_every_steps=checkpoint_every_steps, progress=progress)
    result = train_loop(model, sampler, out_dir=state_dir, config=loop, resume=resume)

    files = export_backbone(model, processor, out_dir)
    n_qas = sum(len(item.qas) for item in items)
    n_tokens = sum(len(tokenizer(f"{qa.question} {qa.answer}")["input_ids"]) for item in items for qa in item.qas)
    record = {
        "command": command or " ".join(sys.argv),
        "arch": arch,
        "seed": seed,
        "steps": result.step,
        "threads": threads,
        "wall_s": round(result.wall_s, 1),
        "prep_s": round(prep_s, 1),
        "final_loss": round(result.final_loss, 4),
        "loss_curve": [round(sum(result.losses[i:i + 50]) / len(result.losses[i:i + 50]), 4)
                       for i in range(0, len(result.losses), 50)],
        "data": {
            "images": len(items),
            "synth_scenes": sum(1 for item in items if item.key.startswith("synth/")),
            "car_photos": sum(1 for item in items if item.key.startswith("carparts/")),
            "qa_pairs": n_qas,
            "qa_text_tokens": n_tokens,
            "image_tokens_per_image": records[0].n_image_tokens,
            "sequences_seen": result.step * recipe.batch_size,
        },
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "recipe": recipe.to_json(),
        "files": files,
    }
    with open(os.path.join(out_dir, "pretrain.json"), "w") as f:
        json.dump(record, f, indent=2)
    if not keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)
    return record


def toy_recipe(arch: str, **overrides) -> Recipe:
    """A seconds-scale recipe for tests and smoke runs (tiny model, few steps)."""
    recipe = default_recipe(arch)
    sizes = dict(recipe.sizes, vision_hidden=32, vision_layers=1, vision_heads=2, text_hidden=48, text_layers=2,
                 text_heads=2, text_kv_heads=1)
    if arch == "llava":
        sizes["patch_size"] = 16
    else:
        sizes.update(patch_size=8, min_pixels=64 * 64, max_pixels=64 * 64)
    base = replace(recipe, sizes=sizes, image_size=64, vocab_size=320, n_scenes=6, n_single_scenes=2,
                   use_carparts=False, steps=4, batch_size=2, turns=3, warmup_steps=2, curriculum_steps=2)
    return replace(base, **overrides)
