"""Per-head tensors from backbone ``Features`` and batching them (shared with the feature cache)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from einops import rearrange

from ..errors import LayerError

QUERIES = ("post_rope", "pre_rope")


def gather_heads(features, heads: list[tuple[int, int]], *, queries: str = "post_rope", keys: str = "post_rope") -> dict:
    """The selected heads' tensors of one image + instruction.

    Args:
        features: a backbone ``Features`` (``.layers[l].q_text (L, H, d)``, ``.k_image (P, H, d)``,
            ``.v_image (P, H, d)``, ``.grid``).
        heads: ``[(layer, head), ...]``, length ``k``.
        queries: ``"post_rope"`` (``q_text``, what the model's attention uses) or ``"pre_rope"``
            (``q_text_pre``: the same queries before RoPE; encode with ``pre_rope=True``).
        keys: the same choice for the image keys (``k_image`` or ``k_image_pre``).

    Returns:
        ``{"q_text": (k, L, d), "text_mask": (L,) bool, "k_image": (k, P, d), "v_image": (k, P, d),
        "grid": (P_h, P_w)}`` float32 on CPU.
    """
    for name, value in (("queries", queries), ("keys", keys)):
        if value not in QUERIES:
            raise ValueError(f"{name} must be one of {', '.join(QUERIES)}, got {value!r}")
    source = {"q_text": "q_text_pre" if queries == "pre_rope" else "q_text",
              "k_image": "k_image_pre" if keys == "pre_rope" else "k_image", "v_image": "v_image"}
    per_head = {"q_text": [], "k_image": [], "v_image": []}
    for layer, head in heads:
        if layer not in features.layers:
            raise LayerError(
                f"layer {layer} was not captured; encode with layers={sorted({h[0] for h in heads})}"
            )
        lf = features.layers[layer]
        if not 0 <= head < lf.q_text.shape[1]:
            raise LayerError(
                f"head {head} outside layer {layer} (it has {lf.q_text.shape[1]}); re-run head selection"
            )
        for name in per_head:
            tensor = getattr(lf, source[name])
            if tensor is None:
                what = "queries" if name == "q_text" else "keys"
                raise LayerError(f"layer {layer} has no {what} before RoPE; encode with pre_rope=True")
            per_head[name].append(torch.as_tensor(tensor)[:, head].float().cpu())  # (L|P, d)
    out = {name: torch.stack(tensors) for name, tensors in per_head.items()}  # (k, L|P, d)
    out["text_mask"] = torch.ones(out["q_text"].shape[1], dtype=torch.bool)
    out["grid"] = tuple(int(g) for g in features.grid)
    return out


@dataclass
class PointerBatch:
    """What :meth:`PartPointer.forward` reads: a batch of samples that share one grid.

    ``q_text (B, k, L, d)`` text queries of the k heads (right-padded), ``text_mask (B, L)`` bool (True: a
    real token), ``k_image`` / ``v_image (B, k, P, d)`` image keys and values, ``grid (P_h, P_w)``; for
    training also ``patch_target (B, P)`` (the BCE target) and ``distance (B, P_h * s, P_w * s)`` (signed
    distance to the part, patches).
    """

    q_text: torch.Tensor
    text_mask: torch.Tensor
    k_image: torch.Tensor
    v_image: torch.Tensor
    grid: tuple[int, int]
    patch_target: torch.Tensor | None = None
    distance: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.q_text.shape[0]

    def to(self, device) -> PointerBatch:
        """The same batch with every tensor on ``device``."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return PointerBatch(**{n: v.to(device) if torch.is_tensor(v) else v for n, v in moved.items()})


def collate(items: list[dict]) -> PointerBatch:
    """Stack gathered items (:func:`gather_heads`, or cache items with ``patch_target`` / ``distance``)
    into a :class:`PointerBatch`; text is right-padded with zeros and masked.

    All items must share one grid (bucket samples by grid for dynamic-resolution backbones).
    """
    grids = {tuple(item["grid"]) for item in items}
    if len(grids) != 1:
        raise ValueError(f"a batch needs one grid, got {sorted(grids)}; bucket samples by grid")
    max_len = max(item["q_text"].shape[1] for item in items)
    q_text = torch.zeros(len(items), *items[0]["q_text"].shape[:1], max_len, items[0]["q_text"].shape[-1])
    text_mask = torch.zeros(len(items), max_len, dtype=torch.bool)
    for i, item in enumerate(items):
        length = item["q_text"].shape[1]
        q_text[i, :, :length] = item["q_text"]
        text_mask[i, :length] = item["text_mask"]

    def stacked(name):
        return torch.stack([torch.as_tensor(item[name]) for item in items]) if name in items[0] else None

    return PointerBatch(q_text=q_text, text_mask=text_mask, k_image=stacked("k_image"), v_image=stacked("v_image"),
                        grid=grids.pop(), patch_target=stacked("patch_target"), distance=stacked("distance"))


def last_token_query(q_text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
    """The final real prompt token's query per head: ``(B, k, L, d)`` + ``(B, L)`` -> ``(B, k, d)``."""
    positions = torch.arange(text_mask.shape[1], device=text_mask.device)
    last = (text_mask * positions).amax(dim=1)  # (B,) index of the last True
    index = rearrange(last, "b -> b 1 1 1").expand(-1, q_text.shape[1], 1, q_text.shape[-1])
    return q_text.gather(2, index).squeeze(2)  # (B, k, d)
