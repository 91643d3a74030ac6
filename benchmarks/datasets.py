"""Data the benchmark generates itself (SynthParts splits under ``work_dir/data``) and the cells it reads.

SynthParts seeds: train 0, val 1 (what pointers are trained and tuned on), test 1234 (nobody trains or
tunes on it). A split is regenerated only when its stamp (split, scenes, seed) differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYNTH_SEEDS = {"train": 0, "val": 1}


@dataclass(frozen=True)
class Cell:
    """One dataset column of the main table: a display name and an ``open_dataset`` spec (None: missing)."""

    name: str
    spec: str | None
    why_missing: str = ""


def synth_split(settings, split: str, scenes: int) -> Path:
    """Generate (once) a SynthParts ``split`` of ``scenes`` scenes; returns its folder."""
    from partpoint.data.synth import generate_split

    seed = settings.synth_test_seed if split == "test" else SYNTH_SEEDS[split]
    folder = Path(settings.work_dir) / "data" / f"synth-{split}-n{scenes}-s{seed}"
    stamp = folder / "bench_stamp.json"
    want = {"split": split, "scenes": scenes, "seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return folder
    generate_split(str(folder), split=split, n=scenes, seed=seed, workers=1, progress=False)
    stamp.write_text(json.dumps(want))
    return folder


def main_cells(settings) -> list[Cell]:
    """The main table's datasets, in column order."""
    test = synth_split(settings, "test", settings.synth_test_scenes)
    cells = [Cell("SynthParts direct", f"{test}#2"), Cell("SynthParts reason", f"{test}#0,1")]
    for name, root, prefix, selector in (
        ("Car-Parts test", settings.carparts, "carparts", ""),
        ("InstructPart reason", settings.instructpart, "instructpart", "#0,1"),
        ("InstructPart named", settings.instructpart, "instructpart", "#2"),
        ("CCP test", settings.ccp, "labelmap", "#direct"),
        ("DoorDetect test", settings.doordetect, "yolo", "#direct"),
    ):
        if root is not None and Path(root).exists():
            part = ":handle" if prefix == "yolo" else ""
            cells.append(Cell(name, f"{prefix}:{root}{part}{selector}"))
        else:
            cells.append(Cell(name, None, why_missing=f"data not found at {root}"))
    return cells


def evenly_indices(n: int, cap: int) -> list[int]:
    """At most ``cap`` of the indices ``0 .. n - 1``, evenly spaced (deterministic)."""
    if n <= cap:
        return list(range(n))
    return np.unique(np.linspace(0, n - 1, cap).round().astype(int)).tolist()


def evenly_records(records: list, cap: int) -> list:
    """At most ``cap`` of ``records`` (cached feature records), evenly spaced."""
    return [records[i] for i in evenly_indices(len(records), cap)]


def evenly(dataset, cap: int):
    """At most ``cap`` samples of ``dataset``, evenly spaced (deterministic; same for every method)."""
    return dataset if len(dataset) <= cap else dataset.subset(evenly_indices(len(dataset), cap))
