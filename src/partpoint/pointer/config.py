"""Serializable configuration of a :class:`PartPointer`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

#: Loss settings that pointers saved before the loss had its own config wrote here; they are read and
#: dropped (the loss a pointer was trained with is in its ``train_log.json``).
LEGACY_LOSS_KEYS = ("tau", "gamma", "lam", "use_sdf", "sdf_cap", "inside_slope")
#: Options added after the first pointers were saved: a saved config without the key was trained without
#: the option, so it reads back as the paper's setting, not today's default.
ADDED_LATER = {"detach_attn": False, "a2p_residual": False, "padding": "zeros", "qsynth_queries": "post_rope",
               "image_keys": "post_rope"}


@dataclass(kw_only=True)
class PointerConfig:
    """Everything needed to rebuild a pointer (weights apart) and to check its backbone.

    Identity (filled in when a pointer is trained): ``backbone`` name, its ``fingerprint``, ``heads`` the
    ``(layer, head)`` pairs from head selection (k = ``len(heads)``), ``head_dim`` the backbone's ``d``.
    Q-Synth: ``num_latents`` latents, ``depth`` rounds of cross-attention with ``attn_heads`` inner
    attention heads and an ``ff_mult``-wide feed-forward. A2P: ``decoder_dim`` channels after the 1x1
    fusion, one 3x3 conv + 2x bilinear upsampling per entry of ``stage_dims``.
    Ablation flags: ``use_qsynth`` (False: the final prompt token's query), ``use_a2p`` (False: the
    heatmap is the log of the head-averaged attention on the grid, no upsampling), ``use_values`` (False:
    A2P sees only the attention maps).
    Against the centre hedge (docs/METHOD.md; the defaults were chosen on SynthParts val): ``detach_attn``
    (A2P reads ``A_s`` without passing gradients back, so only the BCE trains Q-Synth), ``a2p_residual``
    (the heatmap is the upsampled ``log mean_h A_s`` plus A2P's output, whose last conv starts at zero),
    ``padding`` of A2P's 3x3 convs (``"zeros"`` or ``"replicate"``: zero padding lets a conv encode
    absolute position). The paper's decoder is ``detach_attn=False, a2p_residual=False, padding="zeros"``.
    ``qsynth_queries``: what Q-Synth reads, the text queries after RoPE (``"post_rope"``, the paper's) or
    before it (``"pre_rope"``: no position rotation in the latents' context). ``image_keys``: the image keys
    ``K_v`` that ``q_s`` is matched against in ``A_s = softmax(q_s K_v^T / sqrt(d))``: after RoPE
    (``"post_rope"``, the paper's) or before it (``"pre_rope"``): ``q_s`` is one fixed vector per instruction,
    so against rotated keys the same content scores differently at different image positions.
    """

    backbone: str = ""
    fingerprint: str = ""
    heads: list[tuple[int, int]] = field(default_factory=list)
    head_dim: int = 128
    num_latents: int = 8
    depth: int = 2
    attn_heads: int = 2
    ff_mult: int = 2
    decoder_dim: int = 64
    stage_dims: tuple[int, ...] = (64, 32)
    use_qsynth: bool = True
    use_a2p: bool = True
    use_values: bool = True
    detach_attn: bool = True
    a2p_residual: bool = True
    padding: str = "replicate"
    qsynth_queries: str = "post_rope"
    image_keys: str = "post_rope"

    @property
    def num_heads(self) -> int:
        """k, the number of localization heads the pointer reads."""
        return len(self.heads)

    @property
    def upsample(self) -> int:
        """Heatmap cells per grid cell along each axis (1 without A2P)."""
        return 2 ** len(self.stage_dims) if self.use_a2p else 1

    @property
    def layers(self) -> list[int]:
        """Sorted distinct layers the heads live in (what the backbone must capture)."""
        return sorted({layer for layer, _ in self.heads})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PointerConfig:
        """Inverse of :meth:`to_json`; unknown keys raise ``KeyError``, missing keys take defaults, except
        the options of :data:`ADDED_LATER` (their values before the option existed); the
        :data:`LEGACY_LOSS_KEYS` of older pointers are dropped."""
        raw = {**ADDED_LATER, **json.loads(text)}
        for key in LEGACY_LOSS_KEYS:
            raw.pop(key, None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise KeyError(f"unknown config keys {unknown}")
        raw["heads"] = [tuple(int(v) for v in pair) for pair in raw.get("heads", [])]
        if "stage_dims" in raw:
            raw["stage_dims"] = tuple(int(v) for v in raw["stage_dims"])
        return cls(**raw)
