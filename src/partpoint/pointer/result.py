"""Result types of the pointer's forward pass and of pointing at an image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class PointerOutput:
    """``patch_logits (B, k, P)`` = ``exp(log_scale_h) * q_s K^T / sqrt(d) + bias_h`` (what the BCE sees);
    ``attn (B, k, P)`` = ``softmax_p(q_s K^T / sqrt(d))`` (rows sum to 1); ``heatmap (B, H', W')`` logits."""

    patch_logits: torch.Tensor
    attn: torch.Tensor
    heatmap: torch.Tensor


@dataclass
class PointResult:
    """A point in ORIGINAL image pixels (``x`` right, ``y`` down, continuous), its raw ``score`` (the heatmap
    mass around the peak), the heatmap it came from (``(H', W')`` probabilities, or None for baselines
    without one), the image size, and (from the predictor) the ``GridGeometry`` that places the heatmap on
    the image and the instruction it answers.

    With a calibrated pointer (``partpoint calibrate``, :mod:`partpoint.pointer.confidence`): ``confidence``
    is the estimated probability that the point hits the part (given the part is in the image),
    ``presence`` the estimated probability that the part is in the image, and ``present`` whether that
    clears the threshold chosen on val; False means "not found": do not act on the point. Without a
    calibration all three are None.
    """

    x: float
    y: float
    score: float
    heatmap: np.ndarray | None = field(repr=False)
    width: int
    height: int
    geometry: object | None = field(default=None, repr=False)
    instruction: str | None = None
    confidence: float | None = None
    presence: float | None = None
    present: bool | None = None

    def to_camera(self, depth, intrinsics, *, depth_scale: float = 1.0, window: int = 2) -> tuple[float,
                                                                                                  float,
                                                                                                  float]:
        """``(X, Y, Z)`` of this point in the camera frame, from a depth image aligned with the colour
        image (an array or a file) and ``intrinsics`` ``(fx, fy, cx, cy)``; see :mod:`partpoint.io.camera`."""
        from ..io.camera import to_camera

        return to_camera(self.x, self.y, depth, intrinsics, depth_scale=depth_scale, window=window,
                         image_size=(self.width, self.height))
