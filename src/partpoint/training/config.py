"""Settings of pointer training: one dataclass per concern, nested in :class:`TrainConfig`.

``TrainConfig(pointer=PointerConfig(...), loss=LossConfig(...), optim=OptimConfig(...),
select=SelectConfig(...))``; every default is written once, in its dataclass. ``config.override(lam=0.5,
epochs=4)`` sets fields by their (unique) names wherever they live; the ``partpoint train`` flags are
generated from the same fields (``commands/train.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..losses import LossConfig
from ..pointer import PointerConfig, setting

#: TrainConfig fields that do not change the trained weights (ignored when a checkpoint is resumed).
NON_RESULT_FIELDS = ("progress", "cache_dir", "checkpoint_every_steps", "stop_after_steps", "select_progress")


@dataclass(kw_only=True)
class OptimConfig:
    """AdamW (weight decay on matrices only), linear warmup then cosine decay, global-norm clipping."""

    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(16, "samples per batch")
    lr: float = setting(1e-3, "peak learning rate")
    weight_decay: float = setting(0.05, "AdamW weight decay of weight matrices, conv kernels and latents")
    warmup_frac: float = setting(0.05, "linear warmup, as a fraction of the steps")
    min_lr_ratio: float = setting(0.05, "cosine decay ends at this fraction of lr")
    grad_clip: float = setting(1.0, "global gradient-norm clip")


@dataclass(kw_only=True)
class SelectConfig:
    """Head selection (``partpoint.heads``, the reference rules) when no heads are given."""

    num_heads: int = setting(5, "k: heads to select when --heads is not given")
    select_samples: int = setting(32, "training samples head selection votes on")
    select_layers: tuple[int, ...] | None = setting(None,
                                                    "candidate layers (none: every layer from 2; a shallower "
                                                          "cap makes caching cheaper)")


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
    seed: int = setting(0, "seed of the weights, batch order and head selection")
    init: str | None = setting(None, "fine-tune from this pointer directory ('default': the bundled one), "
                                     "keeping its heads and architecture")
    cache_dir: str | None = setting(None, "feature cache folder (default OUT/cache)")
    checkpoint_every_steps: int | None = setting(None, "mid-epoch checkpoints every N steps")
    stop_after_steps: int | None = setting(None, "end this run early (continue with --resume)")
    progress: bool = setting(True, "progress bars")
    select_progress: bool = setting(True, "a progress bar for head selection")

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

        return plain(asdict(self))

    def signature(self) -> dict:
        """The fields that determine the trained weights (what a resumed run must share)."""
        return {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_FIELDS}
