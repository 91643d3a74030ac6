"""The settings of the pointer's training loss, one dataclass (docs/METHOD.md gives the formulas)."""

from __future__ import annotations

from dataclasses import dataclass

from ..pointer.config import setting


@dataclass(kw_only=True)
class LossConfig:
    """``L = L_bce + lam * L_heat``: the patch-wise BCE of the synthesized attention logits against the part
    cells, plus the expected asymmetric penalty ``f(min(D, sdf_cap)) + inside_slope * min(D, 0)`` of the
    signed distance ``D`` (patches) under ``softmax(H)`` (or, without ``use_sdf``, ``-log`` of the heatmap
    mass inside the part). The defaults against the centre hedge (``sdf_cap`` 1, ``inside_slope`` 0.1) were
    chosen on SynthParts val (docs/RESULTS.md, ablations); the paper's loss is ``sdf_cap=None,
    inside_slope=0``.
    """

    tau: float = setting(2.0, "SDF penalty steepness")
    gamma: float = setting(4.0, "SDF outside/inside asymmetry")
    lam: float = setting(1.0, "weight of the heatmap term")
    use_sdf: bool = setting(True, "SDF heatmap term (--no-sdf: inside-mass loss)")
    sdf_cap: float | None = setting(1.0,
                                    "cap of the outside distance in the penalty, patches (none: unbounded)")
    inside_slope: float = setting(0.1, "pull toward the innermost point")
    presence_weight: float = setting(1.0, "weight of the presence head's BCE (present vs negatives), if any")
