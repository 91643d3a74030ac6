"""The predictor: ``load_pointer(backbone=..., pointer=...)`` -> a :class:`Pointer` (backbone + trained
pointer).

    pointer = partpoint.load_pointer()                       # default-llava + its bundled pointer
    result = pointer.point("mug.jpg", "Point to the handle of the mug.")
    result.x, result.y                                         # original image pixels

A pointer trained for a backbone lives in ``src/partpoint/assets/pointers/<backbone name>/`` when it
is bundled; any other pointer is a directory written by ``PartPointer.save_pretrained``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .errors import CheckpointError, InstructionError
from .evaluation.metrics import COUNT_PEAK_SEPARATION
from .example import WEIGHT, Example, cell_labels, example_logits, fuse, peak_probability, transfer
from .io.images import ImageLike, check_instruction, load_image
from .pointer import PartPointer, PointResult, SampleFeatures, collate
from .pointer.confidence import point_signals
from .pointer.decode import heatmap_peak, separated_peaks
from .pointer.model import POINTERS, resolve_pointer_dir  # noqa: F401  (the bundled pointers)

DEFAULT_BACKBONE = "default-llava"
MAX_POINTS = 20  # point_all's cap when no max_points is given
#: point_all keeps a further peak when its confidence is at least this share of the first peak's, chosen on
#: SynthParts val instance groups by F1 among 0.25 / 0.5 / 0.75 / 1.01 (``python -m benchmarks.confidence``,
#: results/confidence.json): 1.01, only a peak more confident than the first (the heatmap's lesser peaks are
#: rarely other instances on default-llava)
PEAK_SHARE = 1.01


class Pointer:
    """A trained :class:`PartPointer` on the frozen backbone it was trained on; build it with
    :func:`load_pointer`.

    The predictor owns everything around the model: it checks the image and the instructions once at its
    entry, encodes the image prefix once for all the instructions of a call (``Backbone.encode_many``), runs
    the pointer on a :class:`PointerBatch` and returns :class:`PointResult` objects in ORIGINAL image pixels
    that carry the grid geometry they were mapped through (``partpoint.io.viz`` draws them without running
    the processor again). ``model`` is the ``PartPointer`` (an ``nn.Module`` that does no I/O).
    """

    def __init__(self, *, backbone, model: PartPointer):
        identity = model.identity
        if identity.fingerprint != backbone.fingerprint:
            raise CheckpointError(
                f"pointer was trained on backbone {identity.backbone!r} (fingerprint {identity.fingerprint}) "
                f"but got {backbone.name!r} (fingerprint {backbone.fingerprint}); use the matching backbone "
                "or retrain"
            )
        self.backbone = backbone
        self.model = model.eval()
        self.example_weight = WEIGHT  # the examples' share of a fused heatmap (1: the examples alone)
        self.peak_share = PEAK_SHARE  # point_all: a further peak's confidence against the first's

    def __repr__(self) -> str:
        return f"Pointer(backbone={self.backbone.name!r}, heads={list(self.heads)})"

    @property
    def heads(self) -> tuple[tuple[int, int], ...]:
        """The ``(layer, head)`` localization heads the pointer reads."""
        return self.model.identity.heads

    def point(self, image: ImageLike, text: str | None = None, *,
              examples: Sequence[Example] = ()) -> PointResult:
        """Point at the part ``text`` asks for, or that ``examples`` (reference photos with the part marked)
        show, or both (their heatmaps fused) -> ``PointResult`` (x, y in ORIGINAL image pixels, score,
        heatmap ``(P_h * s, P_w * s)`` probabilities over the processed region, width, height, geometry)."""
        return self.point_many(image, [text], examples=examples)[0]

    @torch.no_grad()
    def point_many(self, image: ImageLike, texts: list[str | None], *,
                   examples: Sequence[Example] = ()) -> list[PointResult]:
        """One :class:`PointResult` per instruction (None: the examples alone); the image prefix is encoded
        once for all, the references once for all."""
        return [points[0] for points in self._point(image, texts, examples=examples, max_points=1)]

    def point_all(self, image: ImageLike, text: str, *, max_points: int | None = None) -> list[PointResult]:
        """Every instance ``text`` asks for ("all the handles"): when the part is present (the calibrated
        presence clears its threshold), the heatmap's separated peaks, strongest first, whose confidence is at
        least ``peak_share`` times the first's, at most ``max_points`` (None: up to :data:`MAX_POINTS`); an
        empty list when the part is absent ("not found"). Needs a calibrated pointer."""
        if self.model.calibration is None:
            raise CheckpointError("pointing at several instances needs a calibrated pointer (its presence "
                                  "threshold); fit one with `partpoint calibrate`")
        if max_points is not None and max_points < 1:
            raise InstructionError(f"max_points {max_points}: ask for at least one point")
        points = [p for p in self._point(image, [text], max_points=max_points or MAX_POINTS)[0] if p.present]
        return confident_peaks(points, self.peak_share)

    @torch.no_grad()
    def _point(self, image: ImageLike, texts: list[str | None], *, examples: Sequence[Example] = (),
               max_points: int = 1) -> list[list[PointResult]]:
        """Up to ``max_points`` separated peaks per instruction (the strongest first; one: the refined
        peak)."""
        image = load_image(image)
        if not texts:
            raise InstructionError("no instructions given; pass at least one")
        if any(t is None for t in texts) and not examples:
            raise InstructionError("give an instruction, a reference example, or both")
        texts = [None if t is None else check_instruction(t) for t in texts]
        named = [t for t in texts if t is not None]
        # the presence head's and the examples' patches come from the same forward
        seeing = {"vision": True} if self.model.reads_vision or examples else {}
        features = self.backbone.encode_many(image, named, layers=self.model.identity.layers,
                                             **seeing) if named else []
        output = self.model(collate([SampleFeatures.of(f, self.heads) for f in features])) if named else None
        geometry = features[0].geometry if features else self.backbone.geometry(image)
        scale = self.model.config.upsample
        size = (geometry.grid[0] * scale, geometry.grid[1] * scale)
        shown = part = None
        if examples:
            from .backbones.backbone import PatchFeatures

            target = PatchFeatures(features[0].vision, geometry, image.size) if features else None
            part = self._example_probability(image, examples, target)  # (P_h, P_w)
            shown = example_logits(part, size)
        results, row = [], 0
        for text in texts:
            logits = shown if text is None else output.heatmap[row]  # (H', W')
            if text is not None and shown is not None:
                logits = fuse(logits, shown, self.example_weight)
            peak = heatmap_peak(logits[None], geometry.grid)
            uv = [(float(peak.u[0]), float(peak.v[0]))]
            if max_points > 1:
                uv += [((c + 0.5) / scale, (r + 0.5) / scale) for r, c in
                       separated_peaks(peak.probs[0].numpy(), max_points,
                                       min_distance=COUNT_PEAK_SEPARATION * scale)[1:]]
            points, probs = [], peak.probs[0]
            for i, (u, v) in enumerate(uv):
                x, y = geometry.to_image_xy(u, v)
                r, c = int(v * scale), int(u * scale)
                score = peak.score[0] if i == 0 else probs[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2].sum()
                point = PointResult(x=float(x), y=float(y), score=float(score),
                                    heatmap=peak.probs[0].numpy(), width=image.width, height=image.height,
                                    geometry=geometry, instruction=text)
                if text is not None and self.model.calibration is not None:
                    signals = point_signals(output, peak.probs[0], geometry.grid, u, v, row)
                    confidence, presence = self.model.calibration.score(signals)
                    point.confidence, point.presence = float(confidence[0]), float(presence[0])
                    point.present = point.presence >= self.model.calibration.threshold
                elif text is None and self.model.calibration is not None and self.model.calibration.example:
                    signal = np.array([[peak_probability(part, u, v)]])
                    point.confidence = float(self.model.calibration.example(signal)[0])
                points.append(point)
            results.append(points)
            row += text is not None
        return results

    def _example_probability(self, image, examples: Sequence[Example], target=None) -> torch.Tensor:
        """``(P_h, P_w)`` probability that each of ``image``'s cells is the references' part (``target``: its
        ``PatchFeatures`` when already captured; :func:`partpoint.example.transfer`)."""
        cells, labels = [], []
        for example in examples:
            if not isinstance(example, Example):
                raise InstructionError(f"examples are partpoint.Example objects, got a "
                                       f"{type(example).__name__}")
            patches = self.backbone.patch_features(load_image(example.image))
            labels.append(cell_labels(patches, example))
            cells.append(self.model.cell_embedding(patches.features.float().cpu()))
        target = self.backbone.patch_features(image) if target is None else target
        prob = transfer(self.model.cell_embedding(target.features.float().cpu()), torch.cat(cells),
                        torch.cat(labels))
        return prob.reshape(target.geometry.grid)


def confident_peaks(points: list[PointResult], share: float) -> list[PointResult]:
    """The first of ``points`` and those after it whose confidence is at least ``share`` times the first's."""
    return points[:1] + [p for p in points[1:] if p.confidence >= share * points[0].confidence]


def load_pointer(backbone=DEFAULT_BACKBONE, pointer=None, *, device: str = "cpu", dtype="float32") -> Pointer:
    """Load ``backbone`` (a default name, a model directory, or a loaded ``Backbone``) and ``pointer``
    (a directory, a ``PartPointer``, or None for the one bundled with the backbone). ``dtype`` of the
    backbone: float32 (the default), ``"auto"`` (bf16 where it is fast), or a name / ``torch.dtype``.

    Raises:
        BackboneError: the backbone cannot be loaded.
        CheckpointError: the pointer is missing, corrupt, or was trained on another backbone.
    """
    from .backbones import Backbone, load_backbone

    directory = None if pointer is None or isinstance(pointer, PartPointer) else resolve_pointer_dir("",
                                                                                                     pointer)
    if not isinstance(backbone, Backbone):  # a missing pointer directory failed above, before this slow load
        backbone = load_backbone(backbone, device=device, dtype=dtype)
    if pointer is None:
        directory = resolve_pointer_dir(backbone.name, None)
    model = pointer if isinstance(pointer, PartPointer) else PartPointer.from_pretrained(directory)
    return Pointer(backbone=backbone, model=model)
