"""Training losses of the pointer: patch-wise BCE on the synthesized attention logits and the
asymmetric SDF penalty on the A2P heatmap (``L = L_bce + lambda * L_sdf``)."""

from __future__ import annotations

from .bce import PART_CELL_COVERAGE, part_cells, patch_bce
from .config import LossConfig
from .sdf import sdf_loss, sdf_penalty, signed_distance
from .total import LossTerms, inside_mass_loss, pointer_loss

__all__ = ["PART_CELL_COVERAGE", "part_cells", "LossConfig", "LossTerms", "inside_mass_loss", "patch_bce",
           "pointer_loss", "sdf_loss", "sdf_penalty", "signed_distance"]
