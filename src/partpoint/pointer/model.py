"""PartPointer: k Q-Synths + A2P decoder on the frozen backbone's localization heads."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from einops import rearrange
from torch import nn

from ..errors import CheckpointError
from .a2p import A2PDecoder
from .batch import collate, gather_heads, last_token_query
from .config import PointerConfig
from .decode import heatmap_peak
from .qsynth import QSynth
from .result import PointerOutput, PointResult

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
        num_heads, dim = len(config.heads), config.head_dim
        self.qsynth = (
            QSynth(
                dim=dim,
                heads=num_heads,
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

    def forward(
        self,
        q_text: torch.Tensor,
        text_mask: torch.Tensor,
        k_image: torch.Tensor,
        v_image: torch.Tensor,
        grid: tuple[int, int],
    ) -> PointerOutput:
        """q_text ``(B, k, L, d)``, text_mask ``(B, L)`` bool, k_image / v_image ``(B, k, P, d)``,
        grid ``(P_h, P_w)`` -> :class:`PointerOutput` with heatmap ``(B, P_h * s, P_w * s)``."""
        queries = self.synthesize(q_text, text_mask)  # (B, k, d)
        raw = torch.einsum("bkd,bkpd->bkp", queries, k_image) * k_image.shape[-1] ** -0.5  # (B, k, P)
        attn = raw.softmax(dim=-1)  # (B, k, P)
        patch_logits = raw * rearrange(self.log_scale.exp(), "k -> 1 k 1") + rearrange(
            self.bias, "k -> 1 k 1"
        )
        if self.decoder is not None:
            heatmap = self.decoder(attn.detach() if self.config.detach_attn else attn, v_image, grid)  # (B, H', W')
        else:
            mean_attn = attn.mean(dim=1).clamp_min(1e-12).log()  # (B, P)
            heatmap = rearrange(mean_attn, "b (ph pw) -> b ph pw", ph=grid[0], pw=grid[1])
        return PointerOutput(patch_logits=patch_logits, attn=attn, heatmap=heatmap)

    def predict_point(self, output: PointerOutput, grid: tuple[int, int]):
        """Peak of the heatmap with sub-patch precision: ``(u, v, score)`` each ``(B,)``, in continuous
        grid coordinates (see :func:`partpoint.pointer.decode.heatmap_peak`)."""
        return heatmap_peak(output.heatmap.detach(), grid)

    def gather(self, features) -> dict:
        """This pointer's heads from a backbone ``Features`` (see :func:`gather_heads`)."""
        item = gather_heads(features, self.config.heads)
        if item["q_text"].shape[-1] != self.config.head_dim:
            raise CheckpointError(
                f"pointer expects head_dim {self.config.head_dim} but the features have "
                f"{item['q_text'].shape[-1]}; use the backbone the pointer was trained on"
            )
        return item

    @torch.no_grad()
    def point(self, backbone, image, text):
        """Point at the part ``text`` asks for in ``image``; the result is in original image pixels.

        ``text`` may be a list of instructions (several parts of one image, what a robot asks for):
        the image prefix is encoded once (``Backbone.encode`` with a list) and a list of results returned.
        """
        several = not isinstance(text, str)
        texts = list(text) if several else [text]
        features = backbone.encode(image, texts, layers=self.config.layers) if several else \
            [backbone.encode(image, text, layers=self.config.layers)]
        batch = collate([self.gather(f) for f in features])
        was_training = self.training
        self.eval()
        output = self(batch["q_text"], batch["text_mask"], batch["k_image"], batch["v_image"], batch["grid"])
        self.train(was_training)
        u, v, score = self.predict_point(output, batch["grid"])
        results = []
        for b, feats in enumerate(features):
            x, y = feats.to_image_xy(float(u[b]), float(v[b]))
            heatmap = rearrange(output.heatmap[b], "h w -> (h w)").softmax(-1).reshape(output.heatmap.shape[1:])
            width, height = feats.image_size
            results.append(PointResult(x=float(x), y=float(y), score=float(score[b]), heatmap=heatmap.numpy(),
                                       width=int(width), height=int(height)))
        return results if several else results[0]

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``config.json``; each file appears atomically (tmp + replace)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}
        for name, write in (
            (WEIGHTS_NAME, lambda path: save_file(state, path, metadata={"format": "pt"})),
            (CONFIG_NAME, lambda path: Path(path).write_text(self.config.to_json())),
        ):
            handle, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            os.close(handle)
            try:
                write(tmp)
                os.replace(tmp, directory / name)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
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
