"""Main table: text pointing, attention pointing, ours, image centre and random on every dataset cell,
for every backbone -> ``results/accuracy.json``."""

from __future__ import annotations

import time

from .datasets import evenly

METHODS = ("text", "attention", "ours", "center", "random")


def run_cell(subject, dataset, method: str, *, seed: int = 0) -> dict:
    """Evaluate one method on one (already capped) dataset; the json record of the cell."""
    from partpoint.evaluation import evaluate

    pointer = subject.pointer_dir if method in ("ours", "attention") else None
    start = time.perf_counter()
    result = evaluate(method, backbone=subject.backbone, dataset=dataset, pointer=pointer, seed=seed, progress=False)
    return {
        "n": result.n,
        "hit_rate": result.hit_rate,
        "patch_acc": result.patch_acc,
        "unparsed": result.unparsed if method == "text" else None,
        "wall_s": time.perf_counter() - start,
    }


def run_accuracy(settings, subjects, cells, *, skipped_backbones: dict[str, str]) -> dict:
    """Every (backbone, cell, method); caps from ``settings`` (``cap``, ``text_cap`` for text pointing)."""
    from tqdm.auto import tqdm

    from partpoint.data import open_dataset

    out = {"methods": list(METHODS), "cap": settings.cap, "text_cap": settings.text_cap,
           "cells": [{"name": c.name, "spec": c.spec, "missing": c.why_missing or None} for c in cells],
           "skipped_backbones": skipped_backbones, "results": []}
    jobs = [(s, c, m) for s in subjects for c in cells if c.spec for m in METHODS]
    datasets = {c.name: open_dataset(c.spec) for c in cells if c.spec}
    for subject, cell, method in tqdm(jobs, desc="main table", unit="cell"):
        full = datasets[cell.name]
        capped = evenly(full, settings.text_cap if method == "text" else settings.cap)
        record = run_cell(subject, capped, method)
        out["results"].append({"backbone": subject.name, "dataset": cell.name, "method": method,
                               "available": len(full), **record})
    return out
