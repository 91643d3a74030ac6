"""Serializable configuration of a :class:`PartPointer`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields


@dataclass
class PointerConfig:
    """Everything needed to rebuild a pointer (weights apart) and to check its backbone.

    ``heads`` are ``(layer, head)`` pairs from head selection; ``head_dim`` is the backbone's ``d``.
    ``tau``, ``gamma``, ``lam`` are the loss hyper-parameters the pointer was trained with.
    Ablation flags: ``use_qsynth`` (False: the final prompt token's query), ``use_a2p`` (False: the
    heatmap is the log of the head-averaged attention on the grid, no upsampling), ``use_values``
    (False: A2P sees only the attention maps), ``use_sdf`` (False: inside-mass heatmap loss).
    Decoder options (docs/METHOD.md, "Against the centre hedge"): ``detach_attn`` (A2P reads ``A_s`` without
    passing gradients back, so only the BCE trains Q-Synth), ``a2p_residual`` (the heatmap is the upsampled
    ``log mean_h A_s`` plus A2P's output, whose last conv starts at zero), ``padding`` of A2P's 3x3 convs
    (``"zeros"`` or ``"replicate"``: zero padding lets a conv encode absolute position). ``sdf_cap`` and
    ``inside_slope`` are loss settings recorded with the weights (see ``losses/sdf.py``).
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
    tau: float = 2.0
    gamma: float = 4.0
    lam: float = 1.0
    use_qsynth: bool = True
    use_a2p: bool = True
    use_values: bool = True
    use_sdf: bool = True
    detach_attn: bool = False
    a2p_residual: bool = False
    padding: str = "zeros"
    sdf_cap: float | None = None
    inside_slope: float = 0.0

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
        """Inverse of :meth:`to_json`; unknown keys raise ``KeyError``, missing keys take defaults."""
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise KeyError(f"unknown config keys {unknown}")
        raw["heads"] = [tuple(int(v) for v in pair) for pair in raw.get("heads", [])]
        if "stage_dims" in raw:
            raw["stage_dims"] = tuple(int(v) for v in raw["stage_dims"])
        return cls(**raw)
