"""``Backbone``: a frozen Hugging Face MLLM whose language-model attention is captured exactly.

``encode`` runs one forward pass with the capture attention (capture.py) and stops right after the
deepest requested layer; the tensors are exactly those of a full forward (nothing after them runs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image

from ..errors import BackboneError, CaptureError, ImageError, LayerError
from .adapter import adapter_for, check_model_dir
from .capture import Recorder, recording, register
from .dtypes import DEFAULT_DTYPE
from .features import Features, LayerFeatures
from .geometry import GridGeometry

_VOLATILE_CONFIG_KEYS = {"transformers_version", "_name_or_path", "dtype", "torch_dtype",
                         "_attn_implementation",
                         "_attn_implementation_internal", "_commit_hash", "use_cache", "architectures"}


_PROBE_INSTRUCTION = "Point to the part."


class PreparedInputs(NamedTuple):
    """``Backbone.prepare_inputs``: the processor's batch and one geometry per image."""

    inputs: object  # a transformers BatchFeature on the backbone's device
    geometries: list[GridGeometry]


class Generation(NamedTuple):
    """``bb.generate`` result: the decoded text, the image's geometry and original ``(W, H)``, the number
    of tokens generated (end-of-sequence included) and the decode with special tokens kept (Qwen2-VL
    writes its boxes as ``<|box_start|>..<|box_end|>`` special tokens: parse ``raw_text``)."""

    text: str
    geometry: GridGeometry
    image_size: tuple[int, int]
    new_tokens: int = 0
    raw_text: str = ""


class PatchFeatures(NamedTuple):
    """``Backbone.patch_features``: ``features (P, C)`` on the pointing grid (row-major), its geometry and the
    original ``(W, H)``."""

    features: torch.Tensor
    geometry: GridGeometry
    image_size: tuple[int, int]


class Backbone:
    """A loaded MLLM + processor with its adapter. Build it with :func:`load_backbone`."""

    def __init__(self, *, model, processor, adapter, name: str):
        self.model = model
        self.processor = processor
        self.adapter = adapter
        self.name = name
        text = adapter.text_config(model)
        self.arch: str = model.config.model_type
        self.num_layers: int = text.num_hidden_layers
        self.num_heads: int = text.num_attention_heads
        self.num_kv_heads: int = getattr(text, "num_key_value_heads", None) or self.num_heads
        self.head_dim: int = getattr(text, "head_dim", None) or text.hidden_size // self.num_heads
        self.image_token_id: int = adapter.image_token_id(model, processor)
        self.vision_dim: int = adapter.patch_feature_dim(model)  # C of patch_features (0: none)
        self._geometry_by_size: dict[tuple[int, int], GridGeometry] = {}

    def __repr__(self) -> str:
        return (f"Backbone(name={self.name!r}, arch={self.arch!r}, layers={self.num_layers}, "
                f"heads={self.num_heads}, head_dim={self.head_dim})")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @cached_property
    def fingerprint(self) -> str:
        """16-hex-digit hash of the config (minus volatile keys) and a strided sample of every weight.

        Weight samples are hashed after rounding to bfloat16, so fp32/bf16 loads of one checkpoint agree.
        """
        digest = hashlib.sha256()
        config = {k: v for k, v in self.model.config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS}
        for sub in ("text_config", "vision_config"):
            if isinstance(config.get(sub), dict):
                config[sub] = {k: v for k, v in config[sub].items() if k not in _VOLATILE_CONFIG_KEYS}
        digest.update(json.dumps(config, sort_keys=True, default=str).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            flat = tensor.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 1024)].to("cpu", torch.bfloat16).view(torch.int16)
            digest.update(f"{name}:{tuple(tensor.shape)}".encode())
            digest.update(sample.numpy().tobytes())
        return digest.hexdigest()[:16]

    def prompt(self, instruction: str) -> str:
        """The exact prompt text ``encode`` feeds the processor for ``instruction``."""
        return self.adapter.prompt(self.processor, instruction)

    def _check_layers(self, layers: Sequence[int] | int) -> list[int]:
        layers = [layers] if isinstance(layers, int) else list(layers)
        if not layers:
            raise LayerError(f"no layers requested; pass layers=[l, ...] with 0 <= l < {self.num_layers}")
        for layer in layers:
            if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.num_layers:
                raise LayerError(f"layer {layer!r} is outside the model ({self.name} has layers "
                                 f"0..{self.num_layers - 1}); pass indices in that range")
        return sorted(set(layers))

    def prepare_inputs(self, images: Sequence[Image.Image], texts: Sequence[str]) -> PreparedInputs:
        """What the model is fed for each (image, instruction or full prompt): the processor's batch on the
        backbone's device and each image's :class:`GridGeometry` (also cached per image size for
        :meth:`geometry`). Images are PIL images as :func:`partpoint.load_image` returns them and instructions
        checked strings: the backbone reads no files and checks nothing twice (its callers' entry points
        do)."""
        for image in images:
            if not isinstance(image, Image.Image):
                raise ImageError(f"the backbone takes PIL images, got a {type(image).__name__}; read it with "
                                 "partpoint.load_image")
        prompts = [t if self.adapter.is_full_prompt(self.processor,
                                                    t) else self.adapter.prompt(self.processor, t)
                   for t in texts]
        inputs = self.adapter.process(self.processor, list(images), prompts).to(self.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        geometries = [self.adapter.geometry(self.processor, inputs, i, im) for i, im in enumerate(images)]
        for image, geometry in zip(images, geometries):
            self._geometry_by_size.setdefault(image.size, geometry)
        return PreparedInputs(inputs, geometries)

    def geometry(self, image: Image.Image) -> GridGeometry:
        """Where ``image``'s token grid lies on it, without running the model: the supported processors
        derive the processed image from the original ``(W, H)`` alone, so the processor (tokenizer +
        image transform) runs once per distinct image size."""
        if image.size not in self._geometry_by_size:
            self.prepare_inputs([image], [_PROBE_INSTRUCTION])
        return self._geometry_by_size[image.size]

    def encode(self, image: Image.Image, instruction: str, *, layers: Sequence[int] | int,
               vision: bool = False) -> Features:
        """Capture ``layers`` for one image and instruction (a full prompt with the image token is used as
        is); ``vision``: also the vision tower's patch features (``Features.vision``)."""
        return self.encode_batch([image], [instruction], layers=layers, vision=vision)[0]

    @contextmanager
    def _patch_capture(self, enabled: bool):
        """Collects the vision tower's patch features of the forwards run inside it, one ``(B_images, P, C)``
        tensor or list of ``(P, C)`` per forward (:meth:`Adapter.capture_patch_features`: nothing runs twice);
        a no-op when disabled."""
        grabbed: list[torch.Tensor] = []
        if not enabled:
            yield grabbed
            return
        handle = self.adapter.capture_patch_features(self.model, grabbed)
        try:
            yield grabbed
        finally:
            handle.remove()

    @torch.no_grad()
    def encode_many(self, image: Image.Image, instructions: Sequence[str], *, layers: Sequence[int] | int,
                    reuse_prefix: bool = True, vision: bool = False) -> list[Features]:
        """One image, several instructions -> one :class:`Features` each, equal to one full forward each.

        The image comes before the instruction in the prompt, so under causal attention the image tokens'
        K/V do not depend on it: the image prefix (everything up to the last image token) runs once and every
        instruction's tokens run at once on copies of its KV cache. Falls back to one full forward per
        instruction where the adapter says the reuse is not valid (``prefix_reuse``: a bidirectional prefix,
        as PaliGemma's) or the prompts do not share the prefix.
        """
        from transformers import DynamicCache

        instructions = list(instructions)
        if not instructions:
            raise BackboneError("no instructions given; pass at least one")
        layers = self._check_layers(layers)
        images = [image] * len(instructions)
        if not (reuse_prefix and self.adapter.prefix_reuse) or len(instructions) == 1:
            return self.encode_batch(images, instructions, layers=layers, vision=vision)
        inputs, geometries = self.prepare_inputs(images, instructions)
        ids, valid = inputs["input_ids"], inputs["attention_mask"].bool()  # (B, S)
        image_pos = (ids[0] == self.image_token_id).nonzero().squeeze(-1)
        split = int(image_pos[-1]) + 1  # the prefix: up to and including the last image token
        final = valid.long().cumsum(-1).argmax(-1)  # (B,)
        if not bool((ids[:, :split] == ids[:1, :split]).all()) or int(final.min()) < split:
            return self.encode_batch(images, instructions, layers=layers, vision=vision)
        positions = self.adapter.position_ids(self.model, inputs)  # (..., B, S)
        cache = DynamicCache(config=self.model.config.get_text_config())
        prefix = Recorder(layers=frozenset([max(layers)]), final_positions=torch.tensor([split - 1]))
        with recording(prefix), self._patch_capture(vision) as patches:  # (the recorder only stops the pass)
            self.model(input_ids=ids[:1, :split], attention_mask=inputs["attention_mask"][:1, :split],
                       position_ids=positions[..., :1, :split], cache=cache, use_cache=True,
                       **self.adapter.image_inputs(inputs, 0))
        cache.batch_repeat_interleave(len(instructions))
        recorder = Recorder(layers=frozenset(layers), final_positions=final - split)
        with recording(recorder):
            self.model(input_ids=ids[:, split:], attention_mask=inputs["attention_mask"],
                       position_ids=positions[..., split:], cache=cache, use_cache=True)
        self._check_recorded(recorder, layers)
        return [self._features(b, ids[b], int(final[b]), recorder, geometries[b], images[b],
                               query_offset=split, vision=patches[0][0] if patches else None)
                for b in range(len(instructions))]

    @torch.no_grad()
    def encode_batch(self, images: Sequence[Image.Image], instructions: Sequence[str], *,
                     layers: Sequence[int] | int, early_exit: bool = True, vision: bool = False
                     ) -> list[Features]:
        """Capture ``layers`` for each (image, instruction) pair in one right-padded forward pass;
        ``vision``: also each image's vision-tower patch features (``Features.vision``)."""
        if len(images) != len(instructions):
            raise BackboneError(f"got {len(images)} images for {len(instructions)} instructions; pass one "
                                "per image")
        layers = self._check_layers(layers)
        inputs, geometries = self.prepare_inputs(images, instructions)
        ids, valid = inputs["input_ids"], inputs["attention_mask"].bool()  # (B, S)
        final = valid.long().cumsum(-1).argmax(-1)  # (B,) last real token (right padding)
        recorder = Recorder(layers=frozenset(layers), final_positions=final, early_exit=early_exit)
        with recording(recorder), self._patch_capture(vision) as patches:
            self.model(**inputs, use_cache=False)
        self._check_recorded(recorder, layers)
        patches = [image for forward in patches for image in forward] or None  # (P, C) per sample
        return [self._features(b, ids[b], int(final[b]), recorder, geometries[b], images[b],
                               vision=None if patches is None else patches[b]) for b in range(len(images))]

    def _check_recorded(self, recorder: Recorder, layers: list[int]) -> None:
        missing = [layer for layer in layers if layer not in recorder.records]
        if missing:
            raise CaptureError(f"layers {missing} of {self.name} never reached the capture attention; "
                               "it cannot be captured")

    def _features(self, b, ids, final, recorder, geometry, image, query_offset: int = 0,
                  vision: torch.Tensor | None = None) -> Features:
        """Features of sample ``b``, head-first; ``query_offset``: the recorded queries start at that position
        (the instruction pass of :meth:`encode_many`; keys and attention rows span the whole sequence);
        ``vision``: its image's ``(P, C)`` patch features, if captured."""
        all_image_pos = (ids == self.image_token_id).nonzero().squeeze(-1)  # (N,) every image token
        image_pos = self.adapter.grid_positions(all_image_pos, geometry)  # (P,) the pointing grid's tokens
        p_h, p_w = geometry.grid
        if image_pos.numel() != p_h * p_w:
            raise CaptureError(f"{image_pos.numel()} image tokens for a {p_h}x{p_w} grid; this model's image "
                               "layout is unsupported")
        text_pos = torch.arange(int(all_image_pos[-1]) + 1, final + 1,
                                device=ids.device)  # (L,) after the image
        layers = {}
        for layer, rec in recorder.records.items():
            row = rec.last_row[b][:, image_pos].float()  # (H, P)
            mass = row.sum(-1)  # (H,)
            layers[layer] = LayerFeatures(
                q_text=rec.query[b][:, text_pos - query_offset],  # (H, L, d)
                k_image=rec.key[b][:, image_pos],  # (H_kv, P, d)
                v_image=rec.value[b][:, image_pos],  # (H_kv, P, d)
                attn_last=row / mass.clamp_min(torch.finfo(row.dtype).tiny)[:, None],
                attn_last_mass=mass,
                scale=rec.scale,
            )
        if vision is not None and vision.shape[0] != p_h * p_w:
            raise CaptureError(f"{vision.shape[0]} vision patches for a {p_h}x{p_w} grid; this model's "
                               "vision tower does not yield the pointing grid")
        tokens = self.processor.tokenizer.convert_ids_to_tokens(ids[text_pos].tolist())
        return Features(layers=layers, geometry=geometry, image_size=image.size, text_tokens=tokens,
                        vision=vision)

    @torch.no_grad()
    def patch_features(self, image: Image.Image) -> PatchFeatures:
        """The vision tower's patch features of ``image`` on its pointing grid (the vision tower alone runs):
        what point by example matches between a reference and a new image."""
        inputs, geometries = self.prepare_inputs([image], [_PROBE_INSTRUCTION])
        features = self.adapter.patch_features(self.model, inputs)[0].float()  # (P, C)
        p_h, p_w = geometries[0].grid
        if features.shape[0] != p_h * p_w:
            raise BackboneError(f"{features.shape[0]} vision patches for a {p_h}x{p_w} grid; point by "
                                "example cannot use this model's vision tower")
        return PatchFeatures(features.cpu(), geometries[0], image.size)

    @torch.no_grad()
    def generate(self, image: Image.Image, instruction_or_prompt: str, *, max_new_tokens: int = 32,
                 min_new_tokens: int = 0) -> Generation:
        """Greedy decoding; returns the new text and the geometry to map model-input pixels back.
        ``min_new_tokens`` > 0 suppresses end-of-sequence until that many tokens are written."""
        inputs, geometries = self.prepare_inputs([image], [instruction_or_prompt])
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens,
                                  min_new_tokens=min_new_tokens or None,
                                  do_sample=False, num_beams=1)
        new_tokens = out[0, inputs["input_ids"].shape[1]:]
        text = self.processor.tokenizer.decode(new_tokens, skip_special_tokens=True)
        raw_text = self.processor.tokenizer.decode(new_tokens, skip_special_tokens=False)
        return Generation(text, geometries[0], image.size, int(new_tokens.shape[0]), raw_text)


def load_backbone(name_or_path: str | Path, *, device: str = "cpu", dtype=DEFAULT_DTYPE) -> Backbone:
    """Load a backbone: a known default name (``default-llava``...) or a ``save_pretrained`` directory.

    ``dtype``: float32 by default (exact), ``"auto"`` (bf16 where it is fast, else float32; see
    ``dtypes.py``),
    or a name / ``torch.dtype``. ``default-llava`` is assembled from its carrier wheels on first use.
    """
    from . import adapters  # noqa: F401  (registers every architecture's adapter)
    from .defaults import resolve
    from .dtypes import resolve_dtype

    path = resolve(name_or_path)
    check_model_dir(path)
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as e:
        raise BackboneError(f"{path / 'config.json'} is unreadable ({e}); re-save the model with "
                            "save_pretrained") from None
    if not model_type:
        raise BackboneError(f"{path / 'config.json'} has no model_type, so it is not a transformers model "
                            "config")
    adapter = adapter_for(model_type)
    register()
    processor = adapter.load_processor(path)
    model = adapter.load_model(path, device=device, dtype=resolve_dtype(dtype, device))
    for p in model.parameters():
        p.requires_grad_(False)
    name = str(name_or_path) if not Path(str(name_or_path)).exists() else path.name
    return Backbone(model=model, processor=processor, adapter=adapter, name=name)
