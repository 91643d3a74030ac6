"""InstructPart (``data_test.json``) and SynthParts (``instructpart_<split>.json``) loader.

Layout, relative to the JSON's folder: a list of ``{"image_path": "<key>.jpg", "part_list":
[{"object", "part", "affordance", "action", "instruction": [6 strings]}]}``; image
``images/<image_path>``, mask ``masks/<stem of image_path>.png`` (inside where ``> 0``). Extra keys
are kept where they mean something: a record-level ``scene`` goes to ``meta["scene"]``.

The six instructions, in order: human task instruction, rewritten task instruction, object-part
sentence, object-part-affordance sentence, object-part name, object-part-affordance name. Indices
0-1 are reasoning queries (the part is not named, ``kind="reason"``), 2-5 name the part
(``kind="direct"``). One sample is made per (record, part, chosen index).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import DataError
from ..sample import PartDataset, Record
from .common import read_json, require
from .masks import PngMask

NUM_INSTRUCTIONS = 6
REASON_INDICES = (0, 1)
DIRECT_INDICES = (2, 3, 4, 5)
#: Named selectors accepted wherever instruction indices are.
INSTRUCTION_ALIASES = {"reason": REASON_INDICES, "direct": DIRECT_INDICES,
                       "all": tuple(range(NUM_INSTRUCTIONS))}


def parse_instructions(selection: str | int | Sequence[int]) -> tuple[int, ...]:
    """Normalise an instruction selection: ``(0, 1)``, ``2``, ``"0,1"``, ``"reason"``, ``"direct"``,
    ``"all"``."""
    if isinstance(selection, str):
        text = selection.strip().lower()
        if text in INSTRUCTION_ALIASES:
            return INSTRUCTION_ALIASES[text]
        try:
            selection = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise DataError(
                f"instruction selector {selection!r} is not understood; use indices like '0,1' or "
                f"one of {', '.join(INSTRUCTION_ALIASES)}"
            ) from None
    if isinstance(selection, int):
        selection = (selection,)
    indices = tuple(int(i) for i in selection)
    require(len(indices) > 0, "no instruction indices selected; pick some of 0-5, e.g. (0, 1)")
    bad = [i for i in indices if not 0 <= i < NUM_INSTRUCTIONS]
    require(not bad,
            f"instruction index {bad[0] if bad else ''} is outside 0-5; pick from 0-5 (0-1 reason, 2-5 "
            "direct)")
    require(len(set(indices)) == len(indices), f"instruction indices {indices} repeat one; list each once")
    return indices


def find_instructpart_json(path: Path, *, split: str | None = None) -> Path:
    """The annotation JSON for ``path``: the file itself, or in a folder ``data_test.json`` or
    ``instructpart_<split>.json`` (``split`` may be omitted when the folder holds one split)."""
    if not path.is_dir():
        return path
    if split is not None:
        return path / f"instructpart_{split}.json"
    if (path / "data_test.json").is_file():
        return path / "data_test.json"
    splits = sorted(path.glob("instructpart_*.json"))
    if len(splits) == 1:
        return splits[0]
    if not splits:
        raise DataError(f"no data_test.json or instructpart_<split>.json in {path}; pass the InstructPart "
                        "folder")
    names = ", ".join(p.stem.removeprefix("instructpart_") for p in splits)
    raise DataError(f"{path} holds several splits ({names}); pick one, e.g. '{path}@{splits[0].stem[13:]}'")


def split_of(json_path: Path) -> str:
    stem = json_path.stem
    if stem.startswith("instructpart_"):
        return stem.removeprefix("instructpart_")
    return stem.removeprefix("data_") if stem.startswith("data_") else stem


def load_instructpart(path: str | Path, *, instructions: str | int | Sequence[int] = REASON_INDICES,
                      split: str | None = None, source: str = "instructpart",
                      name: str | None = None) -> PartDataset:
    """Open an InstructPart-layout dataset (real InstructPart or SynthParts output).

    path: the folder holding ``data_test.json`` / ``instructpart_<split>.json``, or the JSON itself.
    instructions: which of the 6 instructions to use, one sample each (default the two
        reasoning queries, 0 and 1); also ``"reason"``, ``"direct"``, ``"all"`` or ``"0,2"``.
    split: picks ``instructpart_<split>.json`` in a folder with several splits.
    """
    indices = parse_instructions(instructions)
    json_path = find_instructpart_json(Path(path), split=split)
    entries = read_json(json_path, what="InstructPart annotation file")
    require(isinstance(entries, list),
            f"{json_path} is not a list of records; expected the InstructPart layout")
    root = json_path.parent
    split_name = split_of(json_path)
    records = []
    for n, entry in enumerate(entries):
        origin = f"{json_path.name} entry {n}"
        require(isinstance(entry, dict) and isinstance(entry.get("image_path"),
                                                       str) and entry.get("part_list"),
                                                       f"{origin} lacks image_path or part_list; fix the "
                                                       "JSON")
        stem = Path(entry["image_path"]).stem
        mask = PngMask(paths=(root / "masks" / f"{stem}.png",), threshold=0)
        parts = entry["part_list"]
        for p, part in enumerate(parts):
            texts = part.get("instruction", [])
            require(
                isinstance(texts, list) and len(texts) > max(indices),
                f"{origin} has {len(texts) if isinstance(texts, list) else 0} instructions, "
                f"index {max(indices)} was asked for; select fewer or fix the JSON",
            )
            obj, part_name = str(part.get("object", "")), str(part.get("part", ""))
            for i in indices:
                text = texts[i].strip() if isinstance(texts[i], str) else ""
                require(bool(text),
                        f"{origin} instruction {i} is empty; fix the JSON or select other indices")
                meta = {"kind": "reason" if i in REASON_INDICES else "direct", "instruction_index": i,
                        "split": split_name, "affordance": part.get("affordance", ""),
                        "action": part.get("action", "")}
                if "scene" in entry:
                    meta["scene"] = entry["scene"]
                part_tag = f"/{p}" if len(parts) > 1 else ""
                records.append(
                    Record(
                        key=f"{stem}{part_tag}#{i}",
                        image_paths=(root / "images" / entry["image_path"],),
                        instruction=text,
                        mask=mask,
                        object=obj,
                        part=part_name,
                        category=f"{obj}:{part_name}",
                        origin=origin,
                        meta=meta,
                        image_id=str(entry.get("scene", "")),
                    )
                )
    return PartDataset(records, name=name or f"{root.name}:{split_name}", source=source)
