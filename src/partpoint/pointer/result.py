"""Result types of the pointer's forward pass and of pointing at an image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class PointerOutput:
    """``patch_logits (B, k, P)`` = ``exp(log_scale_h) * q_s K^T / sqrt(d) + bias_h`` (what the BCE sees);
    ``attn (B, k, P)`` = ``softmax_p(q_s K^T / sqrt(d))`` (rows sum to 1); ``heatmap (B, H', W')`` logits;
    ``presence_logit (B,)`` from the presence head (None without one or without vision features). The last
    ``vision_rows`` rows of ``patch_logits`` and ``attn`` are the vision head's (0 or 1), the others the k
    localization heads'."""

    patch_logits: torch.Tensor
    attn: torch.Tensor
    heatmap: torch.Tensor
    presence_logit: torch.Tensor | None = None
    vision_rows: int = 0


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

    @property
    def found(self) -> bool:
        """False when a calibrated pointer says the part is not in the image (act on no point)."""
        return self.present is not False

    def to_dict(self) -> dict:
        """The JSON record the CLI, batch and web page give: ``x``, ``y``, ``score``, ``width``, ``height``,
        and with a calibration ``confidence``, ``presence`` and ``present`` (a reference alone: ``confidence``
        only); "not found" has ``x`` and ``y`` null and the peak as ``best_guess``."""
        record = {"x": self.x, "y": self.y, "score": self.score, "width": self.width, "height": self.height}
        if self.confidence is not None:
            record.update(confidence=self.confidence)
        if self.presence is not None:
            record.update(presence=self.presence, present=bool(self.present))
            if not self.found:
                record.update(x=None, y=None, best_guess=[self.x, self.y])
        return record

    def describe(self) -> str:
        """One line for people: the point and its confidence, or "not found"."""
        if not self.found:
            return (f"not found (presence {self.presence:.2f} below the threshold; best guess "
                    f"({self.x:.1f}, {self.y:.1f}))")
        rated = "" if self.confidence is None else f", confidence {self.confidence:.2f}"
        return (f"point ({self.x:.1f}, {self.y:.1f}) in the {self.width}x{self.height} image, score "
                f"{self.score:.3f}{rated}")

    def to_camera(self, depth, intrinsics, *, depth_scale: float = 1.0, window: int = 2) -> tuple[float,
                                                                                                  float,
                                                                                                  float]:
        """``(X, Y, Z)`` of this point in the camera frame, from a depth image aligned with the colour
        image (an array or a file) and ``intrinsics`` ``(fx, fy, cx, cy)``; see :mod:`partpoint.io.camera`."""
        from ..io.camera import to_camera

        return to_camera(self.x, self.y, depth, intrinsics, depth_scale=depth_scale, window=window,
                         image_size=(self.width, self.height))
