"""``open_dataset(spec)``: one string names any dataset partpoint can read.

Spec forms::

    runs/synth                      a SynthParts folder (instructpart_<split>.json inside); the split
    runs/synth@test                 may be omitted when the folder holds one; default instructions 0,1,2
    runs/synth@test#2               ... with an instruction selector (see below)
    instructpart:PATH[@split][#SEL] InstructPart layout (folder with data_test.json, or the JSON);
                                    default instructions 0,1 (the reasoning queries)
    coco:JSON[:IMAGES]              COCO instance/part JSON (CVAT, Label Studio, Roboflow, COCO Annotator,
                                    PACO), images under IMAGES (default: the JSON's folder); paco: is the same
    carparts:PATH                   a Car-Parts split folder (annotations.json inside)
    pointarena:PATH                 PointArena Point-Bench folder (data.json inside)
    labelmap:PATH[#SEL]             label maps (PATH/labels/*.png + label_names.json), e.g. Clothing
    Co-Parsing
    yolo:PATH[:PART,...][#SEL]      YOLO boxes (PATH/labels/*.txt + obj.names), the PART classes as targets
                                    (e.g. yolo:doordetect/train:handle); the others name their objects

Any spec may end in ``%heldN`` or ``%keptN`` (N a percentage): the images of the set that
:meth:`~partpoint.data.sample.PartDataset.hold_out` holds out at N per cent, or the others
(``carparts:PATH%held10``: the Car-Parts training images ``partpoint presence --hold-out 10`` kept out
of training, as a val set).

``#SEL`` picks which of the six InstructPart instructions to use, one sample per index: comma
separated indices (``#0,1``, ``#2``), or ``#reason`` (0,1), ``#direct`` (2-5), ``#all``. A selector in
the spec wins over an ``instructions=`` keyword. A bare path with no prefix is recognised by what
it holds (instructpart_*.json -> SynthParts, data_test.json -> InstructPart, annotations.json ->
Car-Parts, data.json -> PointArena, another JSON file -> COCO, labels/*.png -> label maps, labels/*.txt ->
YOLO). For label maps and YOLO, ``#direct`` / ``#reason`` / ``#all`` pick the instruction kinds (default all).
Other keywords go to the loader.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .loaders import load_carparts, load_coco, load_instructpart, load_labelmap, load_pointarena, load_yolo
from .sample import PartDataset

FORMATS = ("synth", "instructpart", "coco", "paco", "carparts", "pointarena", "labelmap", "yolo")
KINDS = {None: ("direct", "reason"), "all": ("direct", "reason"), "direct": ("direct",),
         "reason": ("reason",)}
SYNTH_INSTRUCTIONS = (0, 1, 2)
_SELECTOR = re.compile(r"^(?:[0-9]+(?:,[0-9]+)*|reason|direct|all)$")
_FORMS = ("a SynthParts folder, instructpart:PATH, coco:JSON[:IMAGES], carparts:PATH, pointarena:PATH, "
          "labelmap:PATH "
          "or yolo:PATH[:PART,...]")


def _split_suffixes(text: str) -> tuple[str, str | None, str | None]:
    """``PATH@split#sel`` -> (PATH, split, sel); suffixes are optional."""
    selector = None
    head, sep, tail = text.rpartition("#")
    if sep and _SELECTOR.match(tail.strip().lower()):
        text, selector = head, tail.strip()
    split = None
    head, sep, tail = text.rpartition("@")
    if sep and tail and "/" not in tail and not Path(text).exists():
        text, split = head, tail
    return text, split, selector


def _require_exists(path: Path, spec: str) -> None:
    if not path.exists():
        raise DataError(f"dataset not found: {path} (from spec {spec!r}); check the path")


def _open_instructpart(path: str, split, selector, *, spec: str, source: str, default, **kw) -> PartDataset:
    location = Path(path)
    _require_exists(location, spec)
    given = kw.pop("instructions", default)
    instructions = selector or given
    return load_instructpart(location, instructions=instructions, split=split, source=source, **kw)


def _open_coco(rest: str, *, spec: str, **kw) -> PartDataset:
    json_part, sep, images = rest.partition(".json:")
    json_path = Path(json_part + ".json") if sep else Path(rest)
    _require_exists(json_path, spec)
    return load_coco(json_path, images=(images or None) if sep else kw.pop("images", None), **kw)


def _detect(path: Path, split, selector, *, spec: str, **kw) -> PartDataset:
    _require_exists(path, spec)
    if path.is_dir() and (split or any(path.glob("instructpart_*.json"))):
        name = kw.pop("name", None) or path.name + (f"@{split}" if split else "")
        return _open_instructpart(str(path), split, selector, spec=spec, source="synthparts",
                                  default=SYNTH_INSTRUCTIONS, name=name, **kw)
    if path.is_dir() and (path / "data_test.json").is_file():
        return _open_instructpart(str(path), split, selector, spec=spec, source="instructpart",
                                  default=(0, 1), **kw)
    if path.is_dir() and (path / "annotations.json").is_file():
        return load_carparts(path, **kw)
    if path.is_dir() and (path / "data.json").is_file():
        return load_pointarena(path, **kw)
    if path.is_file() and path.suffix == ".json":
        return load_coco(path, **kw)
    if path.is_dir() and any((path / "labels").glob("*.png")):
        return load_labelmap(path, kinds=KINDS[selector], **kw)
    if path.is_dir() and any((path / "labels").glob("*.txt")):
        return load_yolo(path, kinds=KINDS[selector], **kw)
    raise DataError(f"cannot tell the dataset format of {path}; pass {_FORMS}")


_HOLD_OUT = re.compile(r"^(?P<spec>.+)%(?P<part>held|kept)(?P<percent>[0-9]{1,2})$")


def open_dataset(spec: str | Path, **kw) -> PartDataset:
    """Open the dataset named by ``spec`` (see the module docstring for the forms)."""
    text = str(spec).strip()
    hold_out = _HOLD_OUT.match(text)
    if hold_out:
        kept, held = open_dataset(hold_out["spec"], **kw).hold_out(int(hold_out["percent"]))
        return held if hold_out["part"] == "held" else kept
    split_kw = kw.pop("split", None)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in FORMATS:
        if prefix in ("coco", "paco"):
            return _open_coco(rest, spec=text, **kw)
        if prefix in ("synth", "instructpart"):
            path, split, selector = _split_suffixes(rest)
            split = split or split_kw
            default = SYNTH_INSTRUCTIONS if prefix == "synth" else (0, 1)
            source = "synthparts" if prefix == "synth" else "instructpart"
            return _open_instructpart(path, split, selector, spec=text, source=source, default=default, **kw)
        if prefix in ("labelmap", "yolo"):
            rest, _, selector = _split_suffixes(rest)
            if selector not in KINDS:
                raise DataError(f"{text!r}: {prefix} takes #direct, #reason or #all")
            named_parts = prefix == "yolo" and not Path(rest).exists()
            folder, _, parts = rest.partition(":") if named_parts else (rest, "", "")
            _require_exists(Path(folder), text)
            if prefix == "labelmap":
                return load_labelmap(Path(folder), kinds=KINDS[selector], **kw)
            parts = parts.split(",") if parts else None
            return load_yolo(Path(folder), parts=parts, kinds=KINDS[selector], **kw)
        _require_exists(Path(rest), text)
        return (load_carparts if prefix == "carparts" else load_pointarena)(Path(rest), **kw)
    if sep and re.fullmatch(r"[A-Za-z][\w-]+", prefix) and not Path(text).exists():
        raise DataError(f"unknown dataset format {prefix!r} in {text!r}; use one of {', '.join(FORMATS)}")
    path, split, selector = _split_suffixes(text)
    split = split or split_kw
    return _detect(Path(path), split, selector, spec=text, **kw)
