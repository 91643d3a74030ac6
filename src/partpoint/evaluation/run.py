"""``evaluate(method, backbone=..., dataset=...)``: run one pointing method on every sample and score it
(the definitions are in :mod:`partpoint.evaluation.metrics`).

Methods: ``ours`` (a trained ``PartPointer`` through the predictor), ``example`` (ours with ``shots``
reference photos of the same ``object:part`` from the same dataset, never the target's image, drawn with
``seed``; their masks mark the part; a reference whose part the processor crops away is dropped;
``example_weight`` 1: the references alone; ``example_mark`` ``"point"``: one click at the mask's innermost
pixel instead of the mask; a sample with no possible
reference is a miss, counted as unparsed), ``attention`` (native attention of
localization heads: ``heads``, else the pointer's, by default the bundled one's), ``text`` (the
backbone answers in words), ``center`` and ``random`` (seeded). Centre and random never run the model:
their patch accuracy uses ``Backbone.geometry`` (the processor, once per image size); with
``backbone=None`` their hits are still computed and ``patch_acc`` is None.
"""

from __future__ import annotations

import numpy as np

from .methods import METHODS, MethodError
from .metrics import CategoryScore, EvalResult, heatmap_points, patch_hit, point_hit, sample_count


def references(dataset, index: int, shots: int, rng, *, by_category: dict | None = None) -> list[int]:
    """Up to ``shots`` other samples of sample ``index``'s category whose image is another one
    (``by_category``: :func:`category_index` of the dataset, built once for many calls)."""
    by_category = by_category if by_category is not None else category_index(dataset)
    image = dataset.image_id(index)
    pool = [j for j in by_category[dataset.records[index].category] if dataset.image_id(j) != image]
    if not pool:
        return []
    picked = rng.choice(len(pool), size=min(shots, len(pool)), replace=False)
    return [pool[k] for k in sorted(picked.tolist())]


def seen(backbone, sample) -> bool:
    """Whether any of the sample's part lies in the region the backbone sees (LLaVA crops the centre)."""
    geometry = backbone.geometry(sample.image)
    return bool(geometry.grid_mask(sample.mask, image_size=sample.image.size).max() > 0)


def innermost_point(mask: np.ndarray) -> tuple[float, float]:
    """The pixel centre ``(x, y)`` of ``mask`` farthest from its border, the middle one of ties (where a
    person would click it)."""
    from scipy.ndimage import distance_transform_edt

    inside = distance_transform_edt(np.pad(np.asarray(mask, dtype=bool), 1))[1:-1, 1:-1]  # (H, W)
    rows, cols = np.nonzero(inside >= inside.max() - 0.5)  # the deepest ridge (a long part: a line of ties)
    nearest = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))  # its middle
    return cols[nearest] + 0.5, rows[nearest] + 0.5


def category_index(dataset) -> dict[str, list[int]]:
    """Sample indices by category, in dataset order."""
    index: dict[str, list[int]] = {}
    for j, record in enumerate(dataset.records):
        index.setdefault(record.category, []).append(j)
    return index


def evaluate(method: str, *, backbone, dataset, pointer=None, heads=None, seed: int = 0,
             progress: bool = True, shots: int = 1, example_weight: float | None = None,
             example_mark: str = "mask", negatives: int = 0) -> EvalResult:
    """Run ``method`` on every sample of ``dataset`` and score it (see the module docstring).

    Args:
        method: one of ``ours``, ``attention``, ``text``, ``center``, ``random``.
        backbone: a loaded ``Backbone`` (may be None for ``center`` / ``random``: no patch accuracy).
        dataset: a ``PartDataset`` (or any sequence of ``Sample``).
        pointer: a ``PartPointer`` or its directory (``ours``; ``attention`` takes its heads); None: bundled.
        heads: attention heads instead of a pointer's (HeadSelection, heads.json path, or pairs).
        seed: seed of the ``random`` method's point stream.
        negatives: ``ours``: also point at this many negatives per image (:mod:`partpoint.data.negatives`,
            drawn with ``seed``) and score "not in the image" (``EvalResult.negatives``).
    """
    from tqdm.auto import tqdm

    from ..baselines import attention_point, centre_point, random_point, text_points
    from ..pointer import PointResult

    if method not in METHODS:
        raise MethodError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if example_mark not in ("mask", "point"):
        raise MethodError(f"example_mark {example_mark!r}: mark references by 'mask' or 'point'")
    if backbone is None and method not in ("center", "random"):
        raise MethodError(f"method {method!r} needs a backbone; pass --backbone")
    if method in ("ours", "example") or (method == "attention" and heads is None):
        from ..predictor import load_pointer

        predictor = load_pointer(backbone, pointer)  # the one check that the pointer is this backbone's
        if example_weight is not None:
            predictor.example_weight = example_weight
    if method == "attention":
        from ..heads import read_heads

        head_list = read_heads(heads) if heads is not None else list(predictor.heads)
        layers = sorted({layer for layer, _ in head_list})
    rng = np.random.default_rng(seed)
    by_category = category_index(dataset) if method == "example" else None

    result = EvalResult(method=method, backbone=getattr(backbone, "name", "none"), n=0, hits=0,
                        patch_hits=0 if backbone is not None else None, unparsed=0, per_category={})
    for index in tqdm(range(len(dataset)), desc=f"eval {method}", disable=not progress, unit="sample"):
        sample = dataset[index]
        width, height = sample.image.size
        count = sample_count(sample)
        points = None  # several points: counting items only
        if method == "example":
            from ..example import Example

            shown = [dataset[j] for j in references(dataset, index, shots, rng, by_category=by_category)]
            shown = [s for s in shown if seen(backbone, s)]  # a part cropped away shows nothing
            examples = [Example(s.image, point=innermost_point(s.mask)) if example_mark == "point"
                        else Example(s.image, mask=s.mask) for s in shown]
            prediction = (predictor.point(sample.image, sample.instruction, examples=examples) if shown
                          else None)
        elif method == "ours":
            prediction = predictor.point(sample.image, sample.instruction)
            if count > 1:
                points = heatmap_points(prediction.heatmap, prediction.geometry, count)
        elif method == "attention":
            features = backbone.encode(sample.image, sample.instruction, layers=layers)
            prediction = attention_point(features, head_list)
            if count > 1:
                points = heatmap_points(prediction.heatmap, features.geometry, count)
        elif method == "text":
            points, _ = text_points(backbone, sample.image, sample.instruction)
            prediction = PointResult(x=points[0][0], y=points[0][1], score=1.0, heatmap=None, width=width,
                                     height=height) if points else None
        elif method == "center":
            prediction = centre_point(width, height)
        else:
            prediction = random_point(width, height, rng=rng)
        parsed = prediction is not None
        x, y = (prediction.x, prediction.y) if parsed else (float("nan"), float("nan"))
        if count > 1:
            points = points or [(x, y)]
            hit = len(points) == count and all(point_hit(sample.mask, px, py) for px, py in points)
        else:
            hit = point_hit(sample.mask, x, y)
        on_part_cell = None
        if backbone is not None:
            geometry = backbone.geometry(sample.image)  # the processor once per image size
            on_part_cell = patch_hit(geometry.grid_mask(sample.mask, image_size=sample.image.size), geometry,
                                     x, y)
            result.patch_hits += int(on_part_cell)
        result.n += 1
        result.hits += int(hit)
        result.unparsed += int(not parsed)
        score = result.per_category.setdefault(sample.category, CategoryScore())
        score.n += 1
        score.hits += int(hit)
        result.samples.append(
            {
                "key": sample.meta.get("key", str(index)),
                "category": sample.category,
                "x": x if parsed else None,
                "y": y if parsed else None,
                "hit": hit,
                "patch_hit": on_part_cell,
                "parsed": parsed,
                **({"count": count,
                    "points": [list(map(float, p)) for p in points or []]} if count > 1 else {}),
                **calibrated(prediction),
            }
        )
    if negatives:
        if method != "ours":
            raise MethodError(f"--negatives scores the pointer's presence; method {method!r} has none")
        from ..data.negatives import negatives as make_negatives

        absent = make_negatives(dataset, per_image=negatives, seed=seed)
        for index in tqdm(range(len(absent)), desc="eval negatives", disable=not progress, unit="sample"):
            sample = absent[index]
            prediction = predictor.point(sample.image, sample.instruction)
            result.negatives.append({"key": sample.meta["key"], "category": sample.category,
                                     "x": prediction.x, "y": prediction.y, **calibrated(prediction)})
    return result


def calibrated(prediction) -> dict:
    """A prediction's calibrated fields for the per-sample record (none for uncalibrated methods)."""
    if prediction is None or getattr(prediction, "confidence", None) is None:
        return {}
    if prediction.presence is None:  # a reference alone: a confidence, no presence
        return {"confidence": prediction.confidence}
    return {"confidence": prediction.confidence, "presence": prediction.presence,
            "present": bool(prediction.present)}

