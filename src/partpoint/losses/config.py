"""The settings of the pointer's training loss, one dataclass (docs/METHOD.md gives the formulas)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True)
class LossConfig:
    """``L = L_bce + lam * L_heat``.

    ``L_bce``: patch-wise BCE of the synthesized attention logits against ``bce_target`` per grid cell
    (``"cells"``: the part cells, what patch accuracy scores; ``"coverage"``: the soft part fraction),
    part cells weighted by ``pos_weight`` (None: 1).
    ``L_heat``: with ``use_sdf``, the expected asymmetric penalty ``f(min(D, sdf_cap)) + inside_slope *
    min(D, 0)`` of the signed distance ``D`` (patches) under ``softmax(H)``, ``f`` of steepness ``tau`` and
    outside/inside asymmetry ``gamma`` (``sdf_cap`` None: unbounded, the paper's); without it, ``-log`` of
    the heatmap mass inside the part (ablation). The defaults against the centre hedge (``sdf_cap`` 1,
    ``inside_slope`` 0.1) were chosen on SynthParts val (docs/RESULTS.md, ablations).
    """

    tau: float = 2.0
    gamma: float = 4.0
    lam: float = 1.0
    use_sdf: bool = True
    sdf_cap: float | None = 1.0
    inside_slope: float = 0.1
    pos_weight: float | None = None
    bce_target: str = "cells"
