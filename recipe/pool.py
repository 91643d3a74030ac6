"""An in-memory pool of preprocessed images with their QA, and deterministic batches drawn from it.

Every image is rendered/read and run through the processor ONCE; ``pixel_values`` are kept in fp16
(about 0.3 MB per 224 px image). A batch is a pure function of ``(seed, step)``, so resuming at a step
replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .packing import IGNORE_INDEX, ChatPacker
from .text import QA


@dataclass
class ImageRecord:
    """One preprocessed image: processor tensors (``pixel_values`` and, for Qwen, ``image_grid_thw``)."""

    key: str
    image_inputs: dict  # name -> tensor with a leading per-image axis (Qwen: patches)
    n_image_tokens: int
    qas: list[QA]
    easy: bool  # part of the curriculum's first stage (single-object scenes, car photos)


def preprocess_image(processor, image, *, image_size: int) -> tuple[dict, int]:
    """``image`` (PIL) -> (processor image tensors in fp16/long, number of image tokens in the text)."""
    import torch

    image = image.convert("RGB")
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size))
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "a"}]}], tokenize=False
    )
    enc = processor(text=[text], images=[image], return_tensors="pt")
    n_tokens = int((enc["input_ids"][0] == processor.image_token_id).sum())
    inputs = {}
    for name, value in enc.items():
        if name in ("pixel_values", "image_grid_thw", "image_sizes"):
            inputs[name] = value.to(torch.float16) if value.is_floating_point() else value
    return inputs, n_tokens


def build_records(
    processor, items: Sequence[tuple[str, Callable, list[QA], bool]], *, image_size: int, progress: bool = True
) -> list[ImageRecord]:
    """``items``: (key, load_image() -> PIL, qas, easy) -> records (images processed once, in order)."""
    from tqdm.auto import tqdm

    records = []
    for key, load_image, qas, easy in tqdm(items, desc="preprocess", disable=not progress, leave=False):
        inputs, n_tokens = preprocess_image(processor, load_image(), image_size=image_size)
        records.append(ImageRecord(key=key, image_inputs=inputs, n_image_tokens=n_tokens, qas=list(qas), easy=easy))
    return records


class BatchSampler:
    """Deterministic packed batches: ``batch(step)`` depends only on ``(seed, step)`` and the records.

    Until ``curriculum_steps`` only ``easy`` records are drawn; then all. Each drawn image gets up to
    ``turns`` of its QA pairs, sampled without replacement, packed into one chat sequence.
    """

    def __init__(self, records: Sequence[ImageRecord], *, packer: ChatPacker, batch_size: int, turns: int,
                 seed: int, curriculum_steps: int = 0):
        self.records = list(records)
        self.packer = packer
        self.batch_size = batch_size
        self.turns = turns
        self.seed = seed
        self.curriculum_steps = curriculum_steps
        self.easy = [i for i, r in enumerate(self.records) if r.easy] or list(range(len(self.records)))
        self.all = list(range(len(self.records)))

    def plan(self, step: int) -> list[tuple[int, list[int]]]:
        """[(record index, [qa indices])] of the batch at ``step``."""
        import numpy as np

        rng = np.random.default_rng([self.seed, step])
        pool = self.easy if step < self.curriculum_steps else self.all
        picks = rng.choice(len(pool), size=self.batch_size, replace=len(pool) < self.batch_size)
        plan = []
        for p in picks:
            index = pool[int(p)]
            n_qas = len(self.records[index].qas)
            chosen = rng.choice(n_qas, size=min(self.turns, n_qas), replace=False)
            plan.append((index, [int(c) for c in chosen]))
        return plan

    def batch(self, step: int) -> dict:
        """Model inputs for ``step``: input_ids/labels/attention_mask (B, L) right-padded, image tensors."""
        import torch

        plan = self.plan(step)
        rows = []
        for index, qa_indices in plan:
            record = self.records[index]
            rows.append(self.packer.encode([record.qas[i] for i in qa_indices], n_image_tokens=record.n_image_tokens))
        length = max(len(ids) for ids, _ in rows)
        pad_id = self.packer.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)  # (B, L)
        labels = torch.full((len(rows), length), IGNORE_INDEX, dtype=torch.long)  # (B, L)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)  # (B, L)
        for b, (ids, labs) in enumerate(rows):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            labels[b, : len(labs)] = torch.tensor(labs)
            attention_mask[b, : len(ids)] = 1
        batch = {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
        for name in self.records[plan[0][0]].image_inputs:
            parts = [self.records[index].image_inputs[name] for index, _ in plan]
            value = torch.cat(parts, dim=0)
            batch[name] = value.float() if value.is_floating_point() else value
        return batch
