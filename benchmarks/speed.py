"""Speed and memory in one process -> ``results/speed.json``.

- ``point_over_floor``: ``PartPointer.point()`` latency / the floor = preprocessing + the backbone's
  forward truncated after the pointer's deepest head layer (decoder layer list cut to ``l + 1``, no
  capture hooks, no LM head) on the same input. Target <= 1.10.
- ``text_over_point``: text pointing (greedy generate + parse) latency / ``point()`` latency. Target >= 3.
  The backbone decides when to stop; ``text_over_point_min_answer`` is the same with end-of-sequence
  suppressed until the family's shortest well-formed answer (``MINIMAL_ANSWERS``) fits, i.e. what a
  backbone that actually writes a point pays at least.
- ``cache_speedup``: per-sample time of a training epoch that recomputes backbone features every step
  (encode + targets + step, measured on ``recompute_samples`` samples after one untimed batch) /
  per-sample time of an epoch from the feature cache (median of ``cache_epochs`` epochs after one
  untimed epoch). Target >= 20.
- ``multi_over_single``: ``point(image, [5 instructions])`` (one image-prefix pass, the five instructions on
  its KV cache) / ``point(image, 1 instruction)``. Target <= 1.5; ``multi_over_single_without_reuse`` is the
  same with one full forward per instruction (batched), for comparison.
- peak memory of ``point()`` and of one cached training epoch, each in a fresh process
  (``memory_probe``: nothing else loaded), and their steady-state growth in this process (``memory.peak_rss``).
Every latency is the median of ``speed_runs`` runs after ``speed_warmup`` warm-up runs; the runs of
``point()``, the floor and the encode are interleaved, so a change in machine load hits all three alike.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

from .memory import peak_rss
from .memory_probe import run_probe

TARGETS = {"point_over_floor": ("<=", 1.10), "text_over_point": (">=", 3.0), "cache_speedup": (">=", 20.0),
           "multi_over_single": ("<=", 1.5)}
FIVE_INSTRUCTIONS = ("Point to the handle.", "Point to the body.", "Where is the lid? Point to it.",
                     "Which part would you hold to carry it?", "Point to the base.")


def interleaved_medians(fns: dict, *, runs: int, warmup: int) -> dict[str, float]:
    """Median seconds of each function; round ``r`` runs every function once, so slow drift in the
    machine's load shifts all medians alike instead of whichever function happened to run then."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


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


def floor_forward(backbone, image, text: str, last_layer: int) -> None:
    """Preprocess + forward of the backbone truncated after ``last_layer``, without the LM head."""
    import torch

    inputs, _ = backbone.prepare_inputs([image], [text])  # the exact preprocessing encode() uses
    inner = getattr(backbone.model, "model", backbone.model)
    with torch.no_grad(), truncated(backbone, last_layer):
        inner(**inputs, use_cache=False)


def backbone_source(backbone) -> str:
    """What ``load_backbone`` needs to load this backbone again in another process (its directory)."""
    return str(backbone.model.config._name_or_path or backbone.name)


def cache_speedup(settings, subject, pointer, dataset) -> dict:
    """Seconds per sample of a cached training epoch vs one that re-encodes every batch."""
    from dataclasses import replace

    from partpoint.training import TrainConfig, fit, make_batch, prepare_items, train_step
    from partpoint.training.cache import FeatureCache, make_record
    from partpoint.training.loop import make_optimizer

    heads = list(pointer.identity.heads)
    config = replace(TrainConfig.of(progress=False, epochs=1 + settings.cache_epochs,
                                    batch_size=settings.ablation_batch_size), pointer=pointer.config)
    scale = pointer.config.upsample
    seeing = pointer.reads_vision  # a vision or presence head trains on the vision patches too
    cache = FeatureCache.build(subject.backbone, dataset, heads=heads, cache_dir=settings.work_dir / "speed-cache",
                               progress=False, vision=seeing)
    items = prepare_items(cache.entries(), scale=scale)[0]
    with peak_rss() as train_memory:
        walls = [epoch["wall_s"] for epoch in fit(items, identity=pointer.identity, config=config).log["epochs"]]
    epoch_s = [b - a for a, b in zip([0.0, *walls], walls)]
    cached_per_sample = statistics.median(epoch_s[1:]) / len(items)  # epoch 0 warms up

    fresh = type(pointer)(pointer.config, pointer.identity)
    optimizer, scheduler = make_optimizer(fresh, config.optim, 10_000)
    count = min(settings.recompute_samples, len(dataset))
    batch_size = min(config.optim.batch_size, count)
    layers = sorted({layer for layer, _ in heads})

    def recompute_step(indices) -> None:
        samples = [dataset[i] for i in indices]
        features = subject.backbone.encode_batch([s.image for s in samples], [s.instruction for s in samples],
                                                 layers=layers, vision=seeing)
        records = [r for r in (make_record(f, s, heads) for f, s in zip(features, samples)) if r is not None]
        fresh_items = prepare_items(records, scale=scale)[0]
        if fresh_items:
            train_step(fresh, optimizer, scheduler, make_batch(fresh_items, list(range(len(fresh_items)))), config)

    recompute_step(range(max(0, len(dataset) - batch_size), len(dataset)))  # warm-up on samples not timed below
    start = time.perf_counter()
    done = 0
    for first in range(0, count, batch_size):
        indices = range(first, min(first + batch_size, count))
        recompute_step(indices)
        done += len(indices)
    recompute_per_sample = (time.perf_counter() - start) / max(done, 1)
    return {"cache_speedup": recompute_per_sample / cached_per_sample,
            "cached_epoch_s_per_sample": cached_per_sample, "cached_epoch_samples": len(items),
            "cached_epoch_s": epoch_s,
            "recompute_s_per_sample": recompute_per_sample, "recompute_samples": done,
            "train_memory": train_memory,
            "train_memory_fresh": run_probe("train", backbone_source(subject.backbone), subject.pointer_dir,
                                            cache.directory, config.optim.batch_size, threads=settings.threads)}


def run_speed(settings, subject, sample, train_dataset) -> dict:
    """All speed numbers for one backbone + its pointer on one SynthParts ``sample``."""
    import torch

    from partpoint.baselines import minimal_answer_tokens, pointing_prompt, text_point
    from partpoint.pointer import SampleFeatures, collate
    from partpoint.predictor import load_pointer

    backbone, runs, warmup = subject.backbone, settings.speed_runs, settings.speed_warmup
    predictor = load_pointer(backbone, subject.pointer_dir)
    pointer, heads, layers = predictor.model, predictor.heads, predictor.model.identity.layers
    image, text = sample.image, sample.instruction
    last_layer = max(layers)

    seeing = pointer.reads_vision
    features = backbone.encode(image, text, layers=layers, vision=seeing)

    @torch.no_grad()
    def head_only():
        batch = collate([SampleFeatures.of(features, heads)])
        pointer.predict_point(pointer(batch), batch.grid)

    def point():
        predictor.point(image, text)

    def five_without_reuse():
        features = backbone.encode_many(image, list(FIVE_INSTRUCTIONS), layers=layers, reuse_prefix=False,
                                        vision=seeing)
        batch = collate([SampleFeatures.of(f, heads) for f in features])
        pointer.predict_point(pointer(batch), batch.grid)

    natural_tokens = backbone.generate(image, pointing_prompt(text, backbone.arch), max_new_tokens=64).new_tokens
    answer_tokens = minimal_answer_tokens(backbone)
    medians = interleaved_medians({
        "point": point,
        "floor": lambda: floor_forward(backbone, image, text, last_layer),
        "encode_capture": lambda: backbone.encode(image, text, layers=layers, vision=seeing),
        "pointer_head": head_only,
        "point_five": lambda: predictor.point_many(image, list(FIVE_INSTRUCTIONS)),
        "point_five_without_reuse": torch.no_grad()(five_without_reuse),
        "text_pointing": lambda: text_point(backbone, image, text),
        "text_pointing_min_answer": lambda: text_point(backbone, image, text, min_new_tokens=answer_tokens,
                                                       max_new_tokens=max(64, answer_tokens)),
    }, runs=runs, warmup=warmup)
    point_s, floor_s = medians["point"], medians["floor"]
    text_s, text_min_s = medians["text_pointing"], medians["text_pointing_min_answer"]
    with peak_rss() as point_memory:
        point()
    image_path = settings.work_dir / "speed-probe.png"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(image_path)
    point_memory_fresh = run_probe("point", backbone_source(backbone), subject.pointer_dir, image_path, text,
                                   threads=settings.threads)
    out = {
        "backbone": subject.name,
        "input": {"key": sample.meta.get("key"), "image_size": list(image.size), "instruction": text,
                  "deepest_layer": last_layer, "num_layers": backbone.num_layers},
        "runs": runs, "warmup": warmup,
        "point_over_floor": point_s / floor_s,
        "text_over_point": text_s / point_s,
        "text_over_point_min_answer": text_min_s / point_s,
        "multi_over_single": medians["point_five"] / point_s,
        "multi_over_single_without_reuse": medians["point_five_without_reuse"] / point_s,
        "text_tokens": {"generated": natural_tokens, "min_answer": answer_tokens},
        "medians_s": medians,
        "point_memory": point_memory,
        "point_memory_fresh": point_memory_fresh,
    }
    out.update(cache_speedup(settings, subject, pointer, train_dataset))
    out["targets"] = {key: {"op": op, "value": value, "met": out[key] <= value if op == "<=" else out[key] >= value}
                      for key, (op, value) in TARGETS.items()}
    return out
