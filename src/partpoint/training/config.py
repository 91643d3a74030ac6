"""Hyper-parameters of pointer training (optimisation + the pointer's own), one serialisable dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..pointer import PointerConfig

#: TrainConfig fields that do not change the trained weights (ignored when a checkpoint is resumed).
NON_RESULT_FIELDS = ("progress", "cache_dir", "checkpoint_every_steps", "stop_after_steps", "select_progress")


@dataclass(kw_only=True)
class TrainConfig:
    """How to train a :class:`partpoint.pointer.PartPointer` from a feature cache.

    Optimisation: AdamW (``weight_decay`` on matrices only), linear warmup over ``warmup_frac`` of the
    steps then cosine decay to ``min_lr_ratio * lr``; ``grad_clip`` on the global norm.
    Pointer: ``num_latents``, ``depth``, ``decoder_dim``, ``stage_dims`` and the ablation flags go to
    :class:`PointerConfig`; ``tau``, ``gamma``, ``lam``, ``pos_weight`` to the loss.
    Heads: when none are given, ``k`` heads are selected on ``select_samples`` training samples, among
    ``select_layers`` (default: every layer from 2; a shallower cap makes the feature cache cheaper,
    since encoding stops after the deepest selected layer).
    ``stop_after_steps`` ends this run early (the checkpoint lets ``resume`` continue it);
    ``checkpoint_every_steps`` adds mid-epoch checkpoints (one is always written per epoch).
    """

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    k: int = 5
    select_samples: int = 32
    select_layers: tuple[int, ...] | None = None  # candidate layers of head selection (None: all >= 2)
    select_rules: str = "reference"  # head-selection rules (partpoint.heads.RULES)
    bce_target: str = "cells"  # "cells": the part cells (as patch accuracy); "coverage": soft (partpoint.losses.bce)
    num_latents: int = 8
    depth: int = 2
    decoder_dim: int = 64
    stage_dims: tuple[int, ...] = (64, 32)
    tau: float = 2.0
    gamma: float = 4.0
    lam: float = 1.0
    pos_weight: float | None = None
    use_qsynth: bool = True
    use_a2p: bool = True
    use_values: bool = True
    use_sdf: bool = True
    # against the centre hedge (docs/METHOD.md); chosen on SynthParts val: docs/RESULTS.md, ablations
    detach_attn: bool = True
    a2p_residual: bool = True
    padding: str = "replicate"
    sdf_cap: float | None = 1.0
    inside_slope: float = 0.1
    cache_dir: str | None = None
    checkpoint_every_steps: int | None = None
    stop_after_steps: int | None = None
    progress: bool = True
    select_progress: bool = True

    def to_dict(self) -> dict:
        out = asdict(self)
        out["stage_dims"] = list(self.stage_dims)
        out["select_layers"] = None if self.select_layers is None else list(self.select_layers)
        return out

    def signature(self) -> dict:
        """The fields that determine the trained weights (what a resumed run must share)."""
        return {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_FIELDS}

    def pointer_config(self, *, backbone, heads: list[tuple[int, int]]) -> PointerConfig:
        return PointerConfig(
            backbone=str(getattr(backbone, "name", "")),
            fingerprint=str(backbone.fingerprint),
            heads=[(int(layer), int(head)) for layer, head in heads],
            head_dim=int(backbone.head_dim),
            num_latents=self.num_latents,
            depth=self.depth,
            decoder_dim=self.decoder_dim,
            stage_dims=tuple(self.stage_dims),
            tau=self.tau,
            gamma=self.gamma,
            lam=self.lam,
            use_qsynth=self.use_qsynth,
            use_a2p=self.use_a2p,
            use_values=self.use_values,
            use_sdf=self.use_sdf,
            detach_attn=self.detach_attn,
            a2p_residual=self.a2p_residual,
            padding=self.padding,
            sdf_cap=self.sdf_cap,
            inside_slope=self.inside_slope,
        )
