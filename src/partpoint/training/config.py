"""Settings of pointer training: one dataclass per concern, nested in :class:`TrainConfig`.

``TrainConfig(pointer=PointerConfig(...), loss=LossConfig(...), optim=OptimConfig(...),
select=SelectConfig(...))``; every default is written once, in its dataclass. ``config.override(lam=0.5,
epochs=4)`` sets fields by their (unique) names wherever they live; the ``partpoint train`` flags are
generated from the same fields (``commands/train.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..losses import LossConfig
from ..pointer import PointerConfig

#: PointerConfig fields that training fills in from the backbone and head selection (never settings).
IDENTITY_FIELDS = ("backbone", "fingerprint", "heads", "head_dim")
#: TrainConfig fields that do not change the trained weights (ignored when a checkpoint is resumed).
NON_RESULT_FIELDS = ("progress", "cache_dir", "checkpoint_every_steps", "stop_after_steps", "select_progress")


@dataclass(kw_only=True)
class OptimConfig:
    """AdamW (``weight_decay`` on matrices only), linear warmup over ``warmup_frac`` of the steps then cosine
    decay to ``min_lr_ratio * lr``; ``grad_clip`` on the global norm; ``epochs`` of ``batch_size`` batches."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0


@dataclass(kw_only=True)
class SelectConfig:
    """Head selection when no heads are given: ``num_heads`` (k) heads voted on ``select_samples`` training
    samples among ``select_layers`` (None: every layer from 2; a shallower cap makes the feature cache
    cheaper, since encoding stops after the deepest selected layer), by ``select_rules``
    (``partpoint.heads.RULES``)."""

    num_heads: int = 5
    select_samples: int = 32
    select_layers: tuple[int, ...] | None = None
    select_rules: str = "reference"


SECTIONS = {"pointer": PointerConfig, "loss": LossConfig, "optim": OptimConfig, "select": SelectConfig}


@dataclass(kw_only=True)
class TrainConfig:
    """How to train a :class:`partpoint.pointer.PartPointer` from a feature cache.

    ``pointer``: the architecture (its identity fields are filled in by training), ``loss``, ``optim``,
    ``select``: see their dataclasses. ``seed`` seeds the weights, the batch plan and head selection.
    ``stop_after_steps`` ends this run early (the checkpoint lets ``resume`` continue it);
    ``checkpoint_every_steps`` adds mid-epoch checkpoints (one is always written per epoch).
    """

    pointer: PointerConfig = field(default_factory=PointerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    seed: int = 0
    cache_dir: str | None = None
    checkpoint_every_steps: int | None = None
    stop_after_steps: int | None = None
    progress: bool = True
    select_progress: bool = True

    @classmethod
    def of(cls, **settings) -> TrainConfig:
        """``TrainConfig()`` with ``settings`` applied by field name (:meth:`override`)."""
        return cls().override(**settings)

    @staticmethod
    def settable() -> dict[str, tuple[str | None, object]]:
        """``{field name: (section or None for TrainConfig itself, dataclass field)}`` of every setting."""
        out: dict[str, tuple[str | None, object]] = {}
        for section, cls in SECTIONS.items():
            for f in fields(cls):
                if section == "pointer" and f.name in IDENTITY_FIELDS:
                    continue
                out[f.name] = (section, f)
        for f in fields(TrainConfig):
            if f.name not in SECTIONS:
                out[f.name] = (None, f)
        return out

    def override(self, **settings) -> TrainConfig:
        """A copy with ``settings`` applied by field name, whichever section holds the field."""
        known = self.settable()
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise TypeError(f"unknown TrainConfig settings {unknown}")
        top = {name: value for name, value in settings.items() if known[name][0] is None}
        sections = {section: replace(getattr(self, section),
                                     **{n: v for n, v in settings.items() if known[n][0] == section})
                    for section in SECTIONS if any(known[n][0] == section for n in settings)}
        return replace(self, **top, **sections)

    def to_dict(self) -> dict:
        """Nested plain data (tuples as lists): what ``train_log.json`` records."""
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return list(plain(v) for v in value) if isinstance(value, (list, tuple)) else value

        out = plain(asdict(self))
        for name in IDENTITY_FIELDS:
            out["pointer"].pop(name)
        return out

    def signature(self) -> dict:
        """The fields that determine the trained weights (what a resumed run must share)."""
        return {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_FIELDS}

    def pointer_config(self, *, backbone, heads: list[tuple[int, int]]) -> PointerConfig:
        """The pointer's config for ``backbone`` and ``heads``: ``self.pointer`` with its identity filled in."""
        return replace(
            self.pointer,
            backbone=str(getattr(backbone, "name", "")),
            fingerprint=str(backbone.fingerprint),
            heads=[(int(layer), int(head)) for layer, head in heads],
            head_dim=int(backbone.head_dim),
        )
