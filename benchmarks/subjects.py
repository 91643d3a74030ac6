"""Which backbones a run benchmarks: the defaults with their bundled pointers, or tiny stand-ins (``--tiny``).
A backbone whose assets are missing is skipped with the reason, never silently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Subject:
    """A loaded backbone and the directory of the pointer trained for it (None: no pointer, so only the
    ablations, which train their own, can use it)."""

    name: str
    backbone: object
    pointer_dir: Path | None


def load_subjects(settings, *, train_spec: str | None = None) -> tuple[list[Subject], dict[str, str]]:
    """``(subjects, skipped)``: ``skipped`` maps a backbone name to why it was left out (or has no pointer).

    In ``tiny`` mode the backbones are built and their pointers trained on ``train_spec``.
    """
    from partpoint.backbones import load_backbone
    from partpoint.errors import PartPointError
    from partpoint.predictor import resolve_pointer_dir

    subjects, skipped = [], {}
    for name in settings.backbones:
        if settings.mode == "tiny":
            from .stand_ins import tiny_backbone_dir, tiny_pointer_dir

            backbone = load_backbone(tiny_backbone_dir(settings.work_dir, name), device=settings.device,
                                     dtype=settings.dtype)
            backbone.name = name
            pointer = settings.pointers.get(name) or tiny_pointer_dir(settings.work_dir, name, backbone, train_spec)
            subjects.append(Subject(name, backbone, Path(pointer)))
            continue
        try:
            backbone = load_backbone(name, device=settings.device, dtype=settings.dtype)
        except PartPointError as error:
            skipped[name] = str(error)
            continue
        try:
            pointer_dir = resolve_pointer_dir(backbone.name, settings.pointers.get(backbone.name) or settings.pointers.get(name))
        except PartPointError as error:  # the ablations train their own pointers; the rest need this one
            skipped[name], pointer_dir = str(error), None
        subjects.append(Subject(backbone.name, backbone, pointer_dir))
    return subjects, skipped

