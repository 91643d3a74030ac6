"""PartPointer: k Q-Synths + A2P decoder on the frozen backbone's localization heads."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import torch
from einops import rearrange
from torch import nn

from ..errors import CheckpointError
from ..io.atomic import atomic_write, atomic_write_text
from .a2p import A2PDecoder
from .batch import PointerBatch, gather_heads, last_token_query
from .config import PointerConfig
from .decode import heatmap_peak
from .qsynth import QSynth
from .result import PointerOutput

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class PartPointer(nn.Module):
    """Predicts a point from the per-head text queries, image keys and values of a frozen backbone.

    Per head ``h``: ``q_s = QSynth_h(Q_t)`` (or the final prompt token's query without Q-Synth),
    ``r = q_s K_v^T / sqrt(d)``, ``A_s = softmax(r)``; the BCE sees ``exp(log_scale_h) r + bias_h``
    (learnable per head, init 1 and 0: the softmax ignores the offset, the BCE needs one).
    The heatmap is ``A2P(A_s, V_v)``, or ``log mean_h A_s`` on the grid without A2P.
    """

    def __init__(self, config: PointerConfig):
        super().__init__()
        if not config.heads:
            raise ValueError("PointerConfig.heads is empty; run head selection first")
        self.config = config
        num_heads, dim = config.num_heads, config.head_dim
        self.qsynth = (
            QSynth(
                dim=dim,
                num_heads=num_heads,
                num_latents=config.num_latents,
                depth=config.depth,
                attn_heads=config.attn_heads,
                ff_mult=config.ff_mult,
            )
            if config.use_qsynth
            else None
        )
        self.log_scale = nn.Parameter(torch.zeros(num_heads))
        self.bias = nn.Parameter(torch.zeros(num_heads))
        self.decoder = (
            A2PDecoder(
                num_heads=num_heads,
                head_dim=dim,
                dim=config.decoder_dim,
                stage_dims=config.stage_dims,
                use_values=config.use_values,
                residual=config.a2p_residual,
                padding=config.padding,
            )
            if config.use_a2p
            else None
        )

    def synthesize(self, q_text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """``(B, k, L, d)`` + ``(B, L)`` -> one query per head ``(B, k, d)``."""
        if self.qsynth is None:
            return last_token_query(q_text, text_mask)
        return self.qsynth(q_text, text_mask)  # (B, k, d)

    def forward(self, batch: PointerBatch) -> PointerOutput:
        """A :class:`PointerBatch` -> :class:`PointerOutput` with heatmap ``(B, P_h * s, P_w * s)``."""
        grid, k_image = batch.grid, batch.k_image  # k_image (B, k, P, d)
        queries = self.synthesize(batch.q_text, batch.text_mask)  # (B, k, d)
        raw = torch.einsum("bkd,bkpd->bkp", queries, k_image) * k_image.shape[-1] ** -0.5  # (B, k, P)
        attn = raw.softmax(dim=-1)  # (B, k, P)
        patch_logits = raw * rearrange(self.log_scale.exp(), "k -> 1 k 1") + rearrange(
            self.bias, "k -> 1 k 1"
        )
        if self.decoder is not None:
            heatmap = self.decoder(attn.detach() if self.config.detach_attn else attn, batch.v_image, grid)  # (B, H', W')
        else:
            mean_attn = attn.mean(dim=1).clamp_min(1e-12).log()  # (B, P)
            heatmap = rearrange(mean_attn, "b (ph pw) -> b ph pw", ph=grid[0], pw=grid[1])
        return PointerOutput(patch_logits=patch_logits, attn=attn, heatmap=heatmap)

    def predict_point(self, output: PointerOutput, grid: tuple[int, int]):
        """Peak of the heatmap with sub-patch precision: ``(u, v, score)`` each ``(B,)``, in continuous
        grid coordinates (see :func:`partpoint.pointer.decode.heatmap_peak`)."""
        return heatmap_peak(output.heatmap.detach(), grid)

    @property
    def needs_pre_rope(self) -> bool:
        """Whether the backbone must also capture queries / keys before RoPE for this pointer."""
        return "pre_rope" in (self.config.qsynth_queries, self.config.image_keys)

    def gather(self, features) -> dict:
        """This pointer's heads from a backbone ``Features`` (see :func:`gather_heads`)."""
        item = gather_heads(features, self.config.heads, queries=self.config.qsynth_queries, keys=self.config.image_keys)
        if item["q_text"].shape[-1] != self.config.head_dim:
            raise CheckpointError(
                f"pointer expects head_dim {self.config.head_dim} but the features have "
                f"{item['q_text'].shape[-1]}; use the backbone the pointer was trained on"
            )
        return item

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``config.json``; each file appears atomically (tmp + replace)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}
        atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
        atomic_write_text(directory / CONFIG_NAME, self.config.to_json())
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, backbone=None, **overrides) -> PartPointer:
        """Load a saved pointer; with ``backbone``, refuse one whose fingerprint differs from the stored one.

        Raises:
            CheckpointError: the directory or a file is missing or corrupt, or the backbone differs.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise CheckpointError(
                    f"pointer checkpoint file {path} is missing; pass a directory saved by save_pretrained"
                )
        try:
            config = replace(PointerConfig.from_json(config_path.read_text()), **overrides)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"pointer config {config_path} is corrupt ({error}); re-save the pointer"
            ) from None
        if backbone is not None and getattr(backbone, "fingerprint", None) != config.fingerprint:
            raise CheckpointError(
                f"pointer {directory} was trained on backbone {config.backbone!r} (fingerprint {config.fingerprint}) "
                f"but got fingerprint {getattr(backbone, 'fingerprint', None)}; load the matching backbone or retrain"
            )
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                f"pointer weights {weights_path} are corrupt ({error}); re-save the pointer"
            ) from None
        model = cls(config)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            first_line = str(error).splitlines()[0]
            raise CheckpointError(
                f"pointer weights {weights_path} do not match its config ({first_line}); re-save the pointer"
            ) from None
        return model
