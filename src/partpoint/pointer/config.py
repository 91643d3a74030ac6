"""A pointer's architecture (:class:`PointerConfig`) and what ties it to its backbone
(:class:`PointerIdentity`).

Every setting is a dataclass field declared with :func:`setting`: its help lives once, in the field's
metadata,
and a ``Literal`` type lists its choices; the ``partpoint train`` flags are generated from these fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Literal


def setting(default, help: str):
    """A dataclass field with its one-line ``help`` (what ``partpoint train --help`` shows)."""
    return field(default=default, metadata={"help": help})


@dataclass(kw_only=True)
class PointerConfig:
    """The pointer's architecture: Q-Synth, A2P and the options against the centre hedge (docs/METHOD.md;
    their defaults were chosen on SynthParts val). The paper's decoder is ``detach_attn=False,
    a2p_residual=False, padding="zeros"``."""

    num_latents: int = setting(8, "Q-Synth latents N")
    depth: int = setting(2, "Q-Synth rounds T of cross-attention over the text queries")
    attn_heads: int = setting(2, "attention heads inside each Q-Synth cross-attention")
    ff_mult: int = setting(2, "Q-Synth feed-forward width multiple")
    decoder_dim: int = setting(64, "A2P channels after the 1x1 fusion")
    stage_dims: tuple[int, ...] = setting((64, 32), "A2P stages, each a 3x3 conv + 2x bilinear upsampling")
    use_qsynth: bool = setting(True, "Q-Synth (--no-qsynth: the final prompt token's query)")
    use_a2p: bool = setting(True, "A2P (--no-a2p: the heatmap is log mean_h A_s on the grid)")
    use_values: bool = setting(True, "A2P reads V_v (--no-values: the attention maps only)")
    detach_attn: bool = setting(True, "A2P reads A_s without gradients to Q-Synth (only the BCE trains it)")
    a2p_residual: bool = setting(True,
                                 "heatmap = upsampled log mean A_s + A2P (its last conv starts at zero)")
    padding: Literal["zeros", "replicate"] = setting("replicate",
                                                     "A2P conv padding (zeros lets a conv encode "
                                                                  "absolute position)")
    vision_head: bool = setting(False, "one more head over the vision tower's patch features "
                                       "(pointer.vision_head)")
    presence_dim: int = setting(0, "width of the presence head over vision patches (0: none; added to a "
                                   "trained pointer by `partpoint presence`)")

    @property
    def reads_vision(self) -> bool:
        """Whether the pointer reads the vision tower's patch features (a vision or a presence head)."""
        return bool(self.presence_dim or self.vision_head)

    @property
    def upsample(self) -> int:
        """Heatmap cells per grid cell along each axis (1 without A2P)."""
        return 2 ** len(self.stage_dims) if self.use_a2p else 1


@dataclass(frozen=True)
class PointerIdentity:
    """What ties a trained pointer to its backbone (filled in by training, checked by the predictor): the
    backbone's name and ``fingerprint``, the ``(layer, head)`` localization heads it reads (k of them) and
    the backbone's head dimension ``d`` and its vision tower's patch feature width ``C`` (0: unknown or none;
    a presence head needs it)."""

    backbone: str
    fingerprint: str
    heads: tuple[tuple[int, int], ...]
    head_dim: int
    vision_dim: int = 0

    def __post_init__(self):
        if not self.heads:
            raise ValueError("a pointer needs at least one (layer, head); run head selection first")
        object.__setattr__(self, "heads", tuple((int(layer), int(head)) for layer, head in self.heads))

    @property
    def num_heads(self) -> int:
        """k, the number of localization heads the pointer reads."""
        return len(self.heads)

    @property
    def layers(self) -> list[int]:
        """Sorted distinct layers the heads live in (what the backbone must capture)."""
        return sorted({layer for layer, _ in self.heads})

    def to_dict(self) -> dict:
        """Plain data (heads as lists), as ``config.json`` and ``train_log.json`` hold it."""
        return {**asdict(self), "heads": [list(pair) for pair in self.heads]}

    @classmethod
    def of(cls, backbone, heads) -> PointerIdentity:
        """The identity of a pointer reading ``heads`` of the loaded ``backbone``."""
        return cls(backbone=str(backbone.name), fingerprint=str(backbone.fingerprint), heads=tuple(heads),
                   head_dim=int(backbone.head_dim), vision_dim=int(getattr(backbone, "vision_dim", 0)))


def config_to_json(config: PointerConfig, identity: PointerIdentity) -> str:
    """A saved pointer's ``config.json``: ``{"identity": {...}, "pointer": {...}}``."""
    return json.dumps({"identity": identity.to_dict(), "pointer": asdict(config)}, indent=2, sort_keys=True)


def config_from_json(text: str) -> tuple[PointerConfig, PointerIdentity]:
    """Inverse of :func:`config_to_json`; unknown keys raise ``KeyError``, missing settings take defaults."""
    raw = json.loads(text)
    settings, identity = dict(raw["pointer"]), dict(raw["identity"])
    unknown = sorted(set(settings) - {f.name for f in fields(PointerConfig)})
    if unknown:
        raise KeyError(f"unknown pointer settings {unknown}")
    if "stage_dims" in settings:
        settings["stage_dims"] = tuple(int(v) for v in settings["stage_dims"])
    return PointerConfig(**settings), PointerIdentity(**identity)
