"""The one per-sample record (:class:`SampleFeatures`, head-first from capture to batch) and its batches."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
from einops import rearrange

from ..backbones.geometry import GridGeometry
from ..errors import LayerError

_TENSORS = ("q_text", "k_image", "v_image", "attn_last", "attn_mass")


@dataclass
class SampleFeatures:
    """One (image, instruction) pair as the pointer and its training read it: the k localization heads.

    ``q_text (k, L, d)`` post-RoPE text queries, ``k_image`` / ``v_image (k, P, d)`` the image keys and values
    each head reads (its KV head), ``attn_last (k, P)`` the final prompt token's attention over the image
    (rows sum to 1) and ``attn_mass (k,)`` its raw mass there; ``geometry`` places the ``(P_h, P_w)`` grid on
    the ``image_size`` ``(W, H)`` image. The feature cache adds the sample's ``key``, ``category``,
    ``image_id``, ``coverage (P,)`` (the fraction of each grid cell inside the part) and ``masks`` (the part
    mask sampled at ``s x s`` points per cell, packed bits, by scale ``s``); training adds its targets
    ``patch_target (P,)`` and ``distance (P_h * s, P_w * s)`` at the pointer's heatmap scale. ``present`` is
    False for a negative (the instruction names something the image does not show: empty masks). ``vision
    (P, C)``: the image's vision-tower patch features, for a pointer with a presence head (else None).
    """

    q_text: torch.Tensor
    k_image: torch.Tensor
    v_image: torch.Tensor
    attn_last: torch.Tensor
    attn_mass: torch.Tensor
    geometry: GridGeometry
    image_size: tuple[int, int]
    key: str = ""
    category: str = ""
    image_id: str = ""
    coverage: torch.Tensor | None = None
    masks: dict[int, torch.Tensor] = field(default_factory=dict)
    patch_target: torch.Tensor | None = None
    distance: torch.Tensor | None = None
    present: bool = True
    vision: torch.Tensor | None = None

    @classmethod
    def of(cls, features, heads) -> SampleFeatures:
        """The ``(layer, head)`` heads of backbone ``Features`` (each query head's KV head indexed once)."""
        rows = {name: [] for name in _TENSORS}
        for layer, head in heads:
            if layer not in features.layers:
                raise LayerError(f"layer {layer} was not captured; encode with "
                                 f"layers={sorted({h[0] for h in heads})}")
            lf = features.layers[layer]
            if not 0 <= head < lf.q_text.shape[0]:
                raise LayerError(f"head {head} outside layer {layer} (it has {lf.q_text.shape[0]}); "
                                 "re-run head selection")
            kv = lf.kv_head(head)
            for name, tensor in zip(_TENSORS, (lf.q_text[head], lf.k_image[kv], lf.v_image[kv],
                                               lf.attn_last[head], lf.attn_last_mass[head])):
                rows[name].append(tensor.detach().float().cpu())
        return cls(**{name: torch.stack(tensors) for name, tensors in rows.items()},
                   geometry=features.geometry,
                   image_size=tuple(int(s) for s in features.image_size),
                   vision=None if features.vision is None else features.vision.float().cpu())

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.geometry.grid)

    def heads(self, k: int) -> SampleFeatures:
        """The same sample keeping only its first ``k`` heads."""
        return replace(self, **{name: getattr(self, name)[:k] for name in _TENSORS})

    def mask(self, scale: int) -> np.ndarray:
        """The part mask sampled at ``scale x scale`` points per grid cell: ``(P_h * s, P_w * s)`` bool."""
        from ..errors import DataError

        if scale not in self.masks:
            raise DataError(f"the cache holds masks at scales {sorted(self.masks)}, not {scale}; rebuild it")
        height, width = self.grid[0] * scale, self.grid[1] * scale
        bits = np.unpackbits(np.asarray(self.masks[scale], dtype=np.uint8), count=height * width)
        return bits.reshape(height, width).astype(bool)

    def to_state(self) -> dict:
        """Plain tensors and values (fp16 features) for ``torch.load(weights_only=True)``;
        :meth:`from_state`."""
        state = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("patch_target",
                                                                                       "distance")}
        state.update({name: state[name].half() for name in ("q_text", "k_image", "v_image", "attn_last")})
        if self.vision is not None:
            state["vision"] = self.vision.half()
        state["geometry"] = self.geometry.to_json()
        return state

    @classmethod
    def from_state(cls, state: dict) -> SampleFeatures:
        return cls(**{**state, "geometry": GridGeometry.from_json(state["geometry"])})


@dataclass
class PointerBatch:
    """What :meth:`PartPointer.forward` reads: a batch of samples that share one grid.

    ``q_text (B, k, L, d)`` text queries of the k heads (right-padded), ``text_mask (B, L)`` bool (True: a
    real token), ``k_image`` / ``v_image (B, k, P, d)`` image keys and values, ``grid (P_h, P_w)``,
    ``vision (B, P, C)`` the vision-tower patch features when captured (a presence head reads them); for
    training also ``patch_target (B, P)`` (the BCE target) and ``distance (B, P_h * s, P_w * s)`` (signed
    distance to the part, patches) and ``present (B,)`` bool (False: a negative, no heatmap target).
    """

    q_text: torch.Tensor
    text_mask: torch.Tensor
    k_image: torch.Tensor
    v_image: torch.Tensor
    grid: tuple[int, int]
    patch_target: torch.Tensor | None = None
    distance: torch.Tensor | None = None
    present: torch.Tensor | None = None
    vision: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.q_text.shape[0]

    def to(self, device) -> PointerBatch:
        """The same batch with every tensor on ``device``."""
        return PointerBatch(**{f.name: (v.to(device) if torch.is_tensor(v) else v)
                               for f in fields(self) for v in [getattr(self, f.name)]})


def collate(samples: list[SampleFeatures]) -> PointerBatch:
    """Stack samples of one grid into a float32 :class:`PointerBatch`; text right-padded with zeros and masked
    (bucket samples by grid for dynamic-resolution backbones)."""
    grids = {s.grid for s in samples}
    if len(grids) != 1:
        raise ValueError(f"a batch needs one grid, got {sorted(grids)}; bucket samples by grid")
    num_heads, _, dim = samples[0].q_text.shape
    max_len = max(s.q_text.shape[1] for s in samples)
    q_text = torch.zeros(len(samples), num_heads, max_len, dim)
    text_mask = torch.zeros(len(samples), max_len, dtype=torch.bool)
    for i, s in enumerate(samples):
        q_text[i, :, : s.q_text.shape[1]] = s.q_text
        text_mask[i, : s.q_text.shape[1]] = True

    def stacked(name):
        values = [getattr(s, name) for s in samples]
        return None if any(v is None for v in values) else torch.stack(values).float()

    return PointerBatch(q_text=q_text, text_mask=text_mask, k_image=stacked("k_image"),
                        v_image=stacked("v_image"),
                        grid=grids.pop(), patch_target=stacked("patch_target"), distance=stacked("distance"),
                        present=torch.tensor([s.present for s in samples]), vision=stacked("vision"))


def last_token_query(q_text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
    """The final real prompt token's query per head: ``(B, k, L, d)`` + ``(B, L)`` -> ``(B, k, d)``."""
    positions = torch.arange(text_mask.shape[1], device=text_mask.device)
    last = (text_mask * positions).amax(dim=1)  # (B,) index of the last True
    index = rearrange(last, "b -> b 1 1 1").expand(-1, q_text.shape[1], 1, q_text.shape[-1])
    return q_text.gather(2, index).squeeze(2)  # (B, k, d)
