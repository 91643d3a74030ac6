"""Speed and memory in one process -> ``results/speed.json``.

- ``point_over_floor``: ``PartPointer.point()`` latency / the floor = preprocessing + the backbone's
  forward truncated after the pointer's deepest head layer (decoder layer list cut to ``l + 1``, no
  capture hooks, no LM head) on the same input. Target <= 1.15.
- ``text_over_point``: text pointing (greedy generate + parse) latency / ``point()`` latency. Target >= 3.
- ``cache_speedup``: per-sample time of a training epoch that recomputes backbone features every step
  (encode + targets + step, measured on ``recompute_samples`` samples) / per-sample time of an epoch
  from the feature cache. Target >= 20.
- peak memory (``memory.peak_rss``) of ``point()`` and of one cached training epoch.
Every latency is the median of ``speed_runs`` runs after ``speed_warmup`` warm-up runs.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

from .memory import peak_rss

TARGETS = {"point_over_floor": ("<=", 1.15), "text_over_point": (">=", 3.0), "cache_speedup": (">=", 20.0)}


def median_seconds(fn, *, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decoder_layers(backbone):
    """``(parent module, attribute)`` of the language model's decoder layer list."""
    from torch import nn

    for name, module in backbone.model.named_modules():
        for attr, child in module.named_children():
            if isinstance(child, nn.ModuleList) and len(child) == backbone.num_layers and "vision" not in name \
                    and "visual" not in name and attr == "layers":
                return module, attr
    raise RuntimeError(f"no decoder layer list of length {backbone.num_layers} in {type(backbone.model).__name__}")


@contextmanager
def truncated(backbone, last_layer: int):
    """The backbone with only decoder layers ``0..last_layer`` (restored on exit)."""
    from torch import nn

    parent, attr = decoder_layers(backbone)
    full = getattr(parent, attr)
    setattr(parent, attr, nn.ModuleList(list(full)[: last_layer + 1]))
    try:
        yield
    finally:
        setattr(parent, attr, full)


def floor_forward(backbone, image, text: str) -> None:
    """Preprocess + forward of the (already truncated) backbone without the LM head."""
    import torch

    _, inputs, _ = backbone._inputs([image], [text])  # the exact preprocessing encode() uses
    inner = getattr(backbone.model, "model", backbone.model)
    with torch.no_grad():
        inner(**inputs, use_cache=False)


def cache_speedup(settings, subject, pointer, dataset) -> dict:
    """Seconds per sample of a cached training epoch vs one that re-encodes every batch."""
    from dataclasses import replace

    from partpoint.cache import FeatureCache, make_entry
    from partpoint.training import TrainConfig, make_batch, prepare_items

    from .loop import make_optimizer, train_on_items, train_step

    heads = [tuple(h) for h in pointer.config.heads]
    config = TrainConfig(epochs=1, batch_size=settings.ablation_batch_size, progress=False)
    scale = pointer.config.upsample
    cache = FeatureCache.build(subject.backbone, dataset, heads=heads, cache_dir=settings.work_dir / "speed-cache",
                               progress=False)
    items = prepare_items(cache.entries(), scale=scale)[0]
    with peak_rss() as train_memory:
        _, log = train_on_items(items, pointer_config=pointer.config, config=config)
    cached_per_sample = log["epoch_s"][0] / len(items)

    fresh = type(pointer)(pointer.config)
    optimizer, scheduler = make_optimizer(fresh, config, 10_000)
    count = min(settings.recompute_samples, len(dataset))
    batch_size = min(config.batch_size, count)
    start = time.perf_counter()
    done = 0
    for first in range(0, count, batch_size):
        samples = [dataset[i] for i in range(first, min(first + batch_size, count))]
        layers = sorted({layer for layer, _ in heads})
        features = subject.backbone.encode_batch([s.image for s in samples], [s.instruction for s in samples],
                                                 layers=layers)
        entries = [e for e in (make_entry(f, s, heads) for f, s in zip(features, samples)) if e is not None]
        fresh_items = prepare_items(entries, scale=scale)[0]
        if fresh_items:
            train_step(fresh, optimizer, scheduler, make_batch(fresh_items, list(range(len(fresh_items)))),
                       replace(config))
        done += len(samples)
    recompute_per_sample = (time.perf_counter() - start) / max(done, 1)
    return {"cache_speedup": recompute_per_sample / cached_per_sample,
            "cached_epoch_s_per_sample": cached_per_sample, "cached_epoch_samples": len(items),
            "recompute_s_per_sample": recompute_per_sample, "recompute_samples": done,
            "train_memory": train_memory}


def run_speed(settings, subject, sample, train_dataset) -> dict:
    """All speed numbers for one backbone + its pointer on one SynthParts ``sample``."""
    import torch

    from partpoint.api import load_pointer_for
    from partpoint.baselines import text_point
    from partpoint.pointer import collate

    backbone, runs, warmup = subject.backbone, settings.speed_runs, settings.speed_warmup
    pointer = load_pointer_for(backbone, subject.pointer_dir)
    image, text = sample.image, sample.instruction
    last_layer = max(pointer.config.layers)

    def point():
        pointer.point(backbone, image, text)

    point_s = median_seconds(point, runs=runs, warmup=warmup)
    with truncated(backbone, last_layer):
        floor_s = median_seconds(lambda: floor_forward(backbone, image, text), runs=runs, warmup=warmup)
    encode_s = median_seconds(lambda: backbone.encode(image, text, layers=pointer.config.layers), runs=runs,
                              warmup=warmup)
    features = backbone.encode(image, text, layers=pointer.config.layers)

    @torch.no_grad()
    def head_only():
        batch = collate([pointer.gather(features)])
        output = pointer(batch["q_text"], batch["text_mask"], batch["k_image"], batch["v_image"], batch["grid"])
        pointer.predict_point(output, batch["grid"])

    head_s = median_seconds(head_only, runs=runs, warmup=warmup)
    text_runs = runs
    text_s = median_seconds(lambda: text_point(backbone, image, text), runs=text_runs, warmup=1)
    with peak_rss() as point_memory:
        point()
    out = {
        "backbone": subject.name,
        "input": {"key": sample.meta.get("key"), "image_size": list(image.size), "instruction": text,
                  "deepest_layer": last_layer, "num_layers": backbone.num_layers},
        "runs": runs, "warmup": warmup, "text_runs": text_runs,
        "point_over_floor": point_s / floor_s,
        "text_over_point": text_s / point_s,
        "medians_s": {"point": point_s, "floor": floor_s, "encode_capture": encode_s, "pointer_head": head_s,
                      "text_pointing": text_s},
        "point_memory": point_memory,
    }
    out.update(cache_speedup(settings, subject, pointer, train_dataset))
    out["targets"] = {key: {"op": op, "value": value, "met": out[key] <= value if op == "<=" else out[key] >= value}
                      for key, (op, value) in TARGETS.items()}
    return out
