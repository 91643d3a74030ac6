"""PartPointer: k Q-Synths + A2P decoder on the frozen backbone's localization heads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from einops import rearrange
from torch import nn

from ..errors import CheckpointError
from ..io.atomic import atomic_write, atomic_write_text
from .a2p import A2PDecoder
from .batch import PointerBatch, last_token_query
from .confidence import CALIBRATION_NAME, Calibration, weights_digest
from .config import PointerConfig, PointerIdentity, config_from_json, config_to_json
from .decode import Peak, heatmap_peak
from .presence import PresenceHead
from .qsynth import QSynth
from .result import PointerOutput
from .vision_head import VisionHead

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: Bundled pointers, one folder per backbone name.
POINTERS = Path(__file__).resolve().parent.parent / "assets" / "pointers"


def resolve_pointer_dir(backbone_name: str, pointer: str | os.PathLike | None) -> Path:
    """``pointer`` as a directory, or the bundled one for ``backbone_name``; CheckpointError if absent."""
    if pointer is None:
        path = POINTERS / backbone_name
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"no pointer is bundled for backbone {backbone_name!r} (looked in {path}); train one with "
                f"`partpoint train --backbone {backbone_name} --data DATA --out {path}` or pass --pointer DIR"
            )
        return path
    path = Path(pointer).expanduser()
    if not path.is_dir():
        raise CheckpointError(f"pointer directory not found: {path}; pass a folder written by `partpoint "
                              "train` (config.json + model.safetensors)")
    return path


class PartPointer(nn.Module):
    """Predicts a point from the per-head text queries, image keys and values of a frozen backbone.

    Per head ``h``: ``q_s = QSynth_h(Q_t)`` (or the final prompt token's query without Q-Synth),
    ``r = q_s K_v^T / sqrt(d)``, ``A_s = softmax(r)``; the BCE sees ``exp(log_scale_h) r + bias_h``
    (learnable per head, init 1 and 0: the softmax ignores the offset, the BCE needs one).
    The heatmap is ``A2P(A_s, V_v)``, or ``log mean_h A_s`` on the grid without A2P. With ``vision_head`` a
    :class:`VisionHead` adds head ``k + 1``, whose keys and values come from the vision patches. With
    ``presence_dim`` a :class:`PresenceHead` also says whether the part is in the image at all (it reads
    the batch's vision patch features; without them its logit is None).
    """

    def __init__(self, config: PointerConfig, identity: PointerIdentity):
        super().__init__()
        self.config, self.identity = config, identity
        if config.reads_vision and not identity.vision_dim:
            raise CheckpointError("this pointer reads vision patch features (a vision or a presence "
                                  "head), but its backbone gives none (identity.vision_dim is 0)")
        self.calibration = None  # a pointer.confidence.Calibration fitted on val (``partpoint calibrate``)
        num_heads, dim = identity.num_heads, identity.head_dim
        self.qsynth = (QSynth(dim=dim, num_heads=num_heads, num_latents=config.num_latents,
                              depth=config.depth, attn_heads=config.attn_heads,
                              ff_mult=config.ff_mult) if config.use_qsynth else None)
        self.vision_head = None
        if config.vision_head:
            self.vision_head = VisionHead(num_heads=num_heads, head_dim=dim, vision_dim=identity.vision_dim,
                                          num_latents=config.num_latents, depth=config.depth,
                                          attn_heads=config.attn_heads, ff_mult=config.ff_mult)
        rows = num_heads + int(config.vision_head)  # the heads A2P and the BCE see
        self.log_scale = nn.Parameter(torch.zeros(rows))
        self.bias = nn.Parameter(torch.zeros(rows))
        self.decoder = (
            A2PDecoder(num_heads=rows, head_dim=dim, dim=config.decoder_dim,
                       stage_dims=config.stage_dims, use_values=config.use_values,
                       residual=config.a2p_residual, padding=config.padding)
            if config.use_a2p
            else None
        )
        self.presence = None
        if config.presence_dim:
            self.presence = PresenceHead(num_heads=num_heads, head_dim=dim, vision_dim=identity.vision_dim,
                                         dim=config.presence_dim)

    @property
    def reads_vision(self) -> bool:
        """Whether the pointer needs the vision tower's patch features (``encode(..., vision=True)``)."""
        return self.config.reads_vision

    def cell_embedding(self, vision: torch.Tensor) -> torch.Tensor:
        """``(..., P, C)`` vision patches -> the space point by example matches cells in: the vision head's
        keys ``(..., P, d)`` (trained to single out parts for text queries), else the patches themselves."""
        if self.vision_head is None:
            return vision
        return self.vision_head.keys(self.vision_head.norm(vision.to(self.log_scale.dtype)))

    def synthesize(self, q_text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """``(B, k, L, d)`` + ``(B, L)`` -> one query per head ``(B, k, d)``."""
        if self.qsynth is None:
            return last_token_query(q_text, text_mask)
        return self.qsynth(q_text, text_mask)  # (B, k, d)

    def forward(self, batch: PointerBatch) -> PointerOutput:
        """A :class:`PointerBatch` -> :class:`PointerOutput` with heatmap ``(B, P_h * s, P_w * s)``."""
        grid, k_image, v_image = batch.grid, batch.k_image, batch.v_image  # (B, k, P, d)
        queries = self.synthesize(batch.q_text, batch.text_mask)  # (B, k, d)
        if self.vision_head is not None:  # head k + 1
            if batch.vision is None:
                raise ValueError("this pointer has a vision head: encode with vision=True")
            query, keys, values = self.vision_head(batch.q_text, batch.text_mask, batch.vision)
            queries, k_image, v_image = (torch.cat(pair, dim=1) for pair in
                                         ((queries, query), (k_image, keys), (v_image, values)))
        raw = torch.einsum("bkd,bkpd->bkp", queries, k_image) * k_image.shape[-1] ** -0.5  # (B, k, P)
        attn = raw.softmax(dim=-1)  # (B, k, P)
        patch_logits = raw * rearrange(self.log_scale.exp(), "k -> 1 k 1") + rearrange(self.bias,
                                                                                       "k -> 1 k 1")
        if self.decoder is not None:
            heatmap = self.decoder(attn.detach() if self.config.detach_attn else attn, v_image,
                                   grid)  # (B, H', W')
        else:
            mean_attn = attn.mean(dim=1).clamp_min(1e-12).log()  # (B, P)
            heatmap = rearrange(mean_attn, "b (ph pw) -> b ph pw", ph=grid[0], pw=grid[1])
        presence = (self.presence(batch.q_text, batch.text_mask, batch.vision)
                    if self.presence is not None and batch.vision is not None else None)  # (B,)
        return PointerOutput(patch_logits=patch_logits, attn=attn, heatmap=heatmap, presence_logit=presence,
                             vision_rows=int(self.vision_head is not None))

    def predict_point(self, output: PointerOutput, grid: tuple[int, int]) -> Peak:
        """Peak of the heatmap with sub-patch precision, in continuous grid coordinates, with the heatmap's
        probabilities (see :func:`partpoint.pointer.decode.heatmap_peak`)."""
        return heatmap_peak(output.heatmap.detach(), grid)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``config.json``; each file appears atomically (tmp + replace)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}
        atomic_write(directory / WEIGHTS_NAME,
                     lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
        atomic_write_text(directory / CONFIG_NAME, config_to_json(self.config, self.identity))
        calibration_path = directory / CALIBRATION_NAME
        if self.calibration is not None:
            self.calibration.weights_sha256 = weights_digest(directory)
            atomic_write_text(calibration_path, self.calibration.to_json())
        else:  # another pointer's calibration must not stay beside these weights
            calibration_path.unlink(missing_ok=True)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> PartPointer:
        """Load a pointer saved by :meth:`save_pretrained` (which backbone it belongs to is the predictor's
        check).

        Raises:
            CheckpointError: the directory or a file is missing or corrupt.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise CheckpointError(f"pointer checkpoint file {path} is missing; pass a directory saved by "
                                      "save_pretrained")
        try:
            config, identity = config_from_json(config_path.read_text())
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"pointer config {config_path} is corrupt ({error}); re-save the "
                                  "pointer") from None
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"pointer weights {weights_path} are corrupt ({error}); re-save the "
                                  "pointer") from None
        model = cls(config, identity)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            first_line = str(error).splitlines()[0]
            raise CheckpointError(f"pointer weights {weights_path} do not match its config ({first_line}); "
                                  "re-save the pointer") from None
        model.calibration = read_calibration(directory)
        return model


def read_calibration(directory: Path):
    """The directory's ``calibration.json`` when it was fitted on these weights, else None (with a warning
    when it exists but is stale or unreadable)."""
    import warnings

    path = directory / CALIBRATION_NAME
    if not path.is_file():
        return None
    try:
        calibration = Calibration.from_json(path.read_text())
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        warnings.warn(f"ignoring {path}: unreadable ({error}); refit it with `partpoint calibrate`",
                      stacklevel=3)
        return None
    if calibration.weights_sha256 != weights_digest(directory):
        warnings.warn(f"ignoring {path}: fitted on other weights; refit it with `partpoint calibrate`",
                      stacklevel=3)
        return None
    return calibration
