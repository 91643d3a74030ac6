"""LLaVA stage-1 alignment of ``default-llava``: only the projector learns, on scene QA (no coordinates).

DINOv2 and SmolLM2 stay frozen. Every training image is run through DINOv2 once and its
``hidden_states[-1]`` patch features (256 x 384, fp16) are kept, so a step runs only the projector
and the language model: ``embeds = E(ids)`` with the image positions replaced by
``projector(features)``, one causal LM pass, cross-entropy on the answer tokens only (the LM head is
applied to the supervised positions alone: it is 49k wide). Batches depend only on ``(seed, step)``
and a checkpoint (projector, optimizer, scheduler, losses) is written atomically every
``checkpoint_every`` steps, so ``resume=True`` continues exactly.

Dtypes: everything runs in fp32. This CPU (AMD EPYC, AVX2, no AMX / AVX512-BF16) measured bf16
matmuls ~77x slower than fp32 (1320x576 @ 576x1536: 1.81 s vs 0.023 s), so bf16 would cost, not save.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from partpoint.io.atomic import atomic_torch_save, atomic_write

STATE_DIR = "_align"
CHECKPOINT = "checkpoint.pt"
FEATURES = "vision_features.pt"


@dataclass
class AlignRecipe:
    """Everything that defines the alignment run besides the seed."""

    n_scenes: int = 1200  # SynthParts train scenes (split "train", the pointer's training split)
    n_single_scenes: int = 300  # of which single-object scenes (drawn first: the curriculum)
    use_carparts: bool = True  # + every Car-Parts training photo
    steps: int = 500
    batch_size: int = 2
    turns: int = 8  # QA turns packed into one chat sequence per image
    lr: float = 1e-3
    warmup_steps: int = 25
    min_lr_ratio: float = 0.1
    curriculum_steps: int = 60
    grad_clip: float = 1.0
    checkpoint_every: int = 25

    def to_json(self) -> dict:
        return asdict(self)


def llava_processor(tokenizer, asset_dir: Path):
    """The LlavaProcessor of ``asset_dir`` (its processor config and chat template) around ``tokenizer``."""
    import tempfile

    from transformers import AutoProcessor

    from partpoint.backbones.defaults import save_processor_files

    with tempfile.TemporaryDirectory() as tmp:
        save_processor_files(tokenizer, Path(tmp), asset_dir=asset_dir)
        return AutoProcessor.from_pretrained(tmp)


def vision_features(model, processor, items, *, batch_size: int = 16, progress: bool = True):
    """``(N, P, D)`` fp16 DINOv2 features at the LLaVA feature layer (CLS dropped), one row per item."""
    import torch
    from tqdm.auto import tqdm

    config = model.config
    rows = []
    bar = tqdm(total=len(items), desc="vision features", unit="img", disable=not progress)
    for start in range(0, len(items), batch_size):
        images = [item.load_image().convert("RGB") for item in items[start:start + batch_size]]
        pixels = processor.image_processor(images, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = model.model.vision_tower(pixels, output_hidden_states=True)
        feats = out.hidden_states[config.vision_feature_layer]
        if config.vision_feature_select_strategy == "default":
            feats = feats[:, 1:]
        rows.append(feats.to(torch.float16))
        bar.update(len(images))
    bar.close()
    return torch.cat(rows)



class ProjectorObjective:
    """Answer-token cross-entropy of the frozen LM with image positions fed by the projector."""

    def __init__(self, model):
        self.language = model.model.language_model
        self.lm_head = model.lm_head
        self.projector = model.model.multi_modal_projector
        self.image_token_id = model.config.image_token_index

    def __call__(self, batch):
        import torch.nn.functional as F

        ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]  # (B, L)
        embeds = self.language.embed_tokens(ids)  # (B, L, D)
        image = self.projector(batch["features"])  # (B, P, D)
        is_image = (ids == self.image_token_id).unsqueeze(-1)  # (B, L, 1)
        embeds = embeds.masked_scatter(is_image, image.to(embeds.dtype))
        hidden = self.language(inputs_embeds=embeds, attention_mask=mask, use_cache=False).last_hidden_state
        target = labels[:, 1:]  # position t predicts token t + 1
        keep = target != -100
        logits = self.lm_head(hidden[:, :-1][keep])  # (M, V): only the supervised positions
        return F.cross_entropy(logits.float(), target[keep])


def align(
    out_dir: str | Path,
    *,
    seed: int = 0,
    recipe: AlignRecipe | None = None,
    threads: int = 2,
    resume: bool = True,
    progress: bool = True,
    synth_items=None,
    command: str | None = None,
) -> dict:
    """Align the projector and write ``projector.safetensors`` + ``alignment.json`` into ``out_dir``
    (the committed asset folder, which already holds config.json, processor_config.json and the
    chat template). Intermediate state lives in ``out_dir/_align`` (resumable; removed at the end)."""
    import shutil

    import numpy as np
    import torch
    from safetensors.torch import save_file

    from partpoint.backbones.defaults import IMAGE_ROW_KEY, assemble_llava
    from partpoint.training.checkpoint import read_state, restore_rng, write_state
    from partpoint.training.schedule import adamw_warmup_cosine

    from .corpus import gather_items
    from .packing import ChatPacker
    from .pool import BatchSampler, ImageRecord

    recipe = recipe or AlignRecipe()
    out_dir = Path(out_dir)
    state_dir = out_dir / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    started = time.monotonic()

    model, tokenizer = assemble_llava(asset_dir=out_dir, projector_state=_placeholder_projector(out_dir))
    embed = model.model.language_model.embed_tokens.weight.detach()[:-1]  # the LM's own rows
    initial = initial_projector(vision_hidden=model.config.vision_config.hidden_size,
                                text_hidden=model.config.text_config.hidden_size, embed=embed, seed=seed)
    processor = llava_processor(tokenizer, out_dir)
    for p in model.parameters():
        p.requires_grad_(False)

    items = gather_items(recipe, seed=seed, synth_items=synth_items, progress=progress)
    feature_path = state_dir / FEATURES
    keys = [item.key for item in items]
    cached = torch.load(feature_path, weights_only=False) if feature_path.is_file() else None
    if cached is not None and cached["keys"] == keys:
        features = cached["features"]
    else:
        features = vision_features(model, processor, items, progress=progress)
        atomic_torch_save({"keys": keys, "features": features}, feature_path)
    prep_s = time.monotonic() - started

    projector = model.model.multi_modal_projector
    projector.load_state_dict({k: v for k, v in initial.items() if k != IMAGE_ROW_KEY})
    with torch.no_grad():  # start at the scale of text embeddings: RMS(projector(f)) = RMS(E)
        sample = features[torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))[:64]].float()
        ratio = float(embed.pow(2).mean().sqrt() / projector(sample).pow(2).mean().sqrt())
        projector.linear_2.weight.mul_(ratio)
        projector.linear_2.bias.mul_(ratio)
    for p in projector.parameters():
        p.requires_grad_(True)

    n_tokens = int(features.shape[1])
    records = [ImageRecord(key=item.key, image_inputs={"features": features[i:i + 1]}, n_image_tokens=n_tokens,
                           qas=list(item.qas), easy=item.easy) for i, item in enumerate(items)]
    sampler = BatchSampler(records, packer=ChatPacker(processor=processor), batch_size=recipe.batch_size,
                           turns=recipe.turns, seed=seed, curriculum_steps=recipe.curriculum_steps)
    objective = ProjectorObjective(model)
    optimizer, scheduler = adamw_warmup_cosine(projector.parameters(), lr=recipe.lr, betas=(0.9, 0.98),
                                               total=recipe.steps, warmup=recipe.warmup_steps,
                                               min_ratio=recipe.min_lr_ratio)
    step, losses, train_s = 0, [], 0.0
    ckpt = state_dir / CHECKPOINT
    if resume and ckpt.is_file():
        state = read_state(ckpt, what="alignment")
        restore_rng(state["rng"])
        projector.load_state_dict(state["projector"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses, train_s = state["step"], state["losses"], state["train_s"]

    def checkpoint():
        write_state(ckpt, {"projector": projector.state_dict(), "optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict(), "step": step, "losses": losses, "train_s": train_s})

    from tqdm.auto import tqdm

    model.model.language_model.train(False)
    bar = tqdm(total=recipe.steps, initial=step, desc="align projector", unit="step", disable=not progress)
    while step < recipe.steps:
        t0 = time.monotonic()
        loss = objective(sampler.batch(step))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(projector.parameters(), recipe.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(float(loss.detach()))
        train_s += time.monotonic() - t0
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-25:]):.3f}", s_per_step=f"{train_s / max(step, 1):.1f}")
        if step % recipe.checkpoint_every == 0 or step == recipe.steps:
            checkpoint()
    bar.close()

    state = {k: v.detach().contiguous().clone() for k, v in projector.state_dict().items()}
    state[IMAGE_ROW_KEY] = initial[IMAGE_ROW_KEY].contiguous()
    atomic_write(out_dir / "projector.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    record = {
        "command": command or " ".join(sys.argv),
        "seed": seed,
        "steps": step,
        "threads": threads,
        "machine": f"{platform.machine()} {_cpu_name()}, {os.cpu_count()} cores, no GPU",
        "dtypes": "fp32 everywhere (vision features cached in fp16); bf16 is ~77x slower on this AVX2 CPU",
        "prep_s": round(prep_s, 1),
        "train_s": round(train_s, 1),
        "s_per_step": round(train_s / max(step, 1), 2),
        "loss_first_25": round(float(np.mean(losses[:25])), 4),
        "loss_last_25": round(float(np.mean(losses[-25:])), 4),
        "loss_curve": [round(float(np.mean(losses[i:i + 25])), 4) for i in range(0, len(losses), 25)],
        "data": {"images": len(items), "synth_scenes": sum(k.startswith("synth/") for k in keys),
                 "car_photos": sum(k.startswith("carparts/") for k in keys),
                 "qa_pairs": sum(len(item.qas) for item in items),
                 "sequences_seen": step * recipe.batch_size, "image_tokens_per_image": n_tokens},
        "trained": "multi_modal_projector (linear_1, linear_2); vision tower and LM frozen",
        "projector_parameters": sum(p.numel() for p in projector.parameters()),
        "recipe": recipe.to_json(),
    }
    atomic_write(out_dir / "alignment.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    shutil.rmtree(state_dir, ignore_errors=True)
    return record


def initial_projector(*, vision_hidden: int, text_hidden: int, embed, seed: int = 0) -> dict:
    """Alignment's starting point: LLaVA-1.5's 2-layer MLP at PyTorch's default init, its output scaled
    to the RMS of the LM's token embeddings (so image tokens enter at the scale text tokens do), and
    the ``<image>`` row at the mean embedding (it is replaced by image features at every image position;
    under tied embeddings it is also an output class that should stay unlikely)."""
    import torch

    from partpoint.backbones.defaults import IMAGE_ROW_KEY

    generator = torch.Generator().manual_seed(seed)
    linear_1, linear_2 = torch.nn.Linear(vision_hidden, text_hidden), torch.nn.Linear(text_hidden, text_hidden)
    for layer in (linear_1, linear_2):
        bound = 1 / layer.in_features**0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return {"linear_1.weight": linear_1.weight.detach(), "linear_1.bias": linear_1.bias.detach(),
            "linear_2.weight": linear_2.weight.detach(), "linear_2.bias": linear_2.bias.detach(),
            IMAGE_ROW_KEY: embed.float().mean(dim=0, keepdim=True)}


def _placeholder_projector(asset_dir: Path) -> dict:
    """Zeros of the projector's shapes: the assembly needs a projector before alignment has one."""
    import torch
    from transformers import LlavaConfig

    config = LlavaConfig.from_json_file(str(asset_dir / "config.json"))
    v, t = config.vision_config.hidden_size, config.text_config.hidden_size
    return {"linear_1.weight": torch.zeros(t, v), "linear_1.bias": torch.zeros(t),
            "linear_2.weight": torch.zeros(t, t), "linear_2.bias": torch.zeros(t),
            "image_token_embedding": torch.zeros(1, t)}


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
