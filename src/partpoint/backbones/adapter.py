"""The per-architecture part of a backbone: loading, prompt, processor call, and grid geometry.

One subclass per architecture, in its own file, registered by ``config.model_type`` with
:func:`register_adapter`. Everything else (capture, early exit, features) is shared in ``backbone.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..errors import BackboneError, CaptureError
from .geometry import GridGeometry

_ADAPTERS: dict[str, type[Adapter]] = {}


def register_adapter(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator: make ``cls`` the adapter of each ``model_type`` in ``cls.model_types``."""
    for model_type in cls.model_types:
        _ADAPTERS[model_type] = cls
    return cls


def adapter_for(model_type: str) -> Adapter:
    """The adapter of ``model_type``; CaptureError when partpoint cannot capture that architecture."""
    if model_type not in _ADAPTERS:
        raise CaptureError(
            f"no partpoint adapter for model_type {model_type!r}, so its attention cannot be captured; "
            f"use one of {', '.join(sorted(_ADAPTERS))} or add an adapter (README: Adding a backbone)"
        )
    return _ADAPTERS[model_type]()


def supported_archs() -> list[str]:
    return sorted(_ADAPTERS)


class Adapter:
    """Architecture-specific hooks. Subclasses set ``model_types`` and ``model_class``."""

    model_types: tuple[str, ...] = ()
    #: Whether the image tokens' K/V are independent of the instruction that follows (causal attention,
    #: image before the text), so ``Backbone.encode_instructions`` may run the image prefix once.
    prefix_reuse: bool = True

    def model_class(self):
        """The transformers ``...ForConditionalGeneration`` class to load."""
        raise NotImplementedError

    def load_model(self, path: Path, *, device: str, dtype):
        """Load the model with the capture attention on the language model only (vision keeps its own)."""
        from .capture import CAPTURE_ATTN

        model = self.model_class().from_pretrained(path, dtype=dtype,
                                                   attn_implementation={"text_config": CAPTURE_ATTN})
        if self.text_config(model)._attn_implementation != CAPTURE_ATTN:
            raise CaptureError(f"{type(model).__name__} did not accept the capture attention; it cannot be "
                               "captured")
        return model.to(device).eval()

    def load_processor(self, path: Path):
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(path)
        except ImportError as error:  # Qwen's video and Molmo2's image processors need torchvision
            raise BackboneError(f"the processor of {path} cannot be loaded ({error}); install torchvision "
                                "(make setup does it: pip install -c constraints.txt torchvision)") from None

    def text_config(self, model):
        """The language model's config (its ``_attn_implementation`` is the capture function)."""
        return model.config.text_config

    def image_token_id(self, model, processor) -> int:
        return int(processor.image_token_id)

    def prompt(self, processor, instruction: str) -> str:
        """The model's chat template around one image and ``instruction``, generation prompt added."""
        if getattr(processor, "chat_template", None):
            messages = [{"role": "user",
                         "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
            return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.plain_prompt(processor, instruction)

    def plain_prompt(self, processor, instruction: str) -> str:
        return f"{processor.image_token}\n{instruction}"

    def is_full_prompt(self, processor, text: str) -> bool:
        """Whether ``text`` already holds the image placeholder (then it is used verbatim)."""
        return processor.image_token in text

    def process(self, processor, images: list[Image.Image], prompts: list[str]):
        """Processor call -> BatchFeature of tensors (right padding, so real tokens keep their positions)."""
        tokenizer = processor.tokenizer
        side, tokenizer.padding_side = tokenizer.padding_side, "right"
        try:
            return processor(images=images, text=prompts, return_tensors="pt", padding=True)
        finally:
            tokenizer.padding_side = side

    def position_ids(self, model, inputs):
        """Position ids of the whole processed batch, ``(B, S)`` (or the model's own layout, batch and
        sequence last), so a prefix and the tokens after it can run separately with the same positions."""
        import torch

        batch, length = inputs["input_ids"].shape
        return torch.arange(length, device=inputs["input_ids"].device).expand(batch, length)

    def image_inputs(self, inputs, index: int) -> dict:
        """The processor outputs other than text ids and mask for sample ``index`` alone (the image)."""
        return {k: v[index : index + 1] for k, v in inputs.items()
                if k not in ("input_ids", "attention_mask") and not k.endswith("token_type_ids")}

    def grid_positions(self, image_positions, geometry):
        """Which of the image-token positions ``(N,)`` form the pointing grid, row-major (default: all)."""
        return image_positions

    def text_unit_frame(self, processor) -> str:
        """The frame of this model's normalised (0-1) text-pointing answers: ``"input_unit"`` (the
        processed input) unless the model was trained on another (see ``LlavaAdapter``)."""
        return "input_unit"

    def geometry(self, processor, inputs, index: int, image: Image.Image) -> GridGeometry:
        """Grid geometry of sample ``index`` of ``inputs`` (the processor output for ``image``)."""
        raise NotImplementedError

    def patch_features(self, model, inputs):
        """The vision tower's patch features on the pointing grid, ``(B, P, C)`` row-major (point by
        example matches them); architectures whose tower does not yield that grid refuse."""
        raise BackboneError(f"point by example needs vision-tower patch features on the pointing grid; the "
                            f"{model.config.model_type} adapter does not provide them (LLaVA's and Qwen's "
                            "do)")

    def patch_feature_dim(self, model) -> int:
        """``C`` of :meth:`patch_features` (0: this adapter provides none)."""
        return 0

    def capture_patch_features(self, model, sink: list):
        """Collect :meth:`patch_features`'s features during the model's own forwards (so an encode gets
        them at no extra cost): each forward appends its images' ``(P, C)`` features to ``sink`` (a
        ``(B, P, C)`` tensor or a list). Returns the hook's handle. By default a pre-hook on
        :meth:`patch_feature_module`."""
        return self.patch_feature_module(model).register_forward_pre_hook(
            lambda _module, args: sink.append(args[0].detach().float().cpu()))

    def patch_feature_module(self, model):
        """The module whose first input, during the model's own forward, is :meth:`patch_features`'s
        ``(B, P, C)`` (so an encode captures them at no extra cost); refused like :meth:`patch_features`."""
        raise BackboneError(f"a presence head reads vision-tower patch features on the pointing grid; the "
                            f"{model.config.model_type} adapter does not provide them (LLaVA's and Qwen's "
                            "do)")


def check_model_dir(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise BackboneError(f"{path} has no config.json, so it is not a saved model; pass a save_pretrained "
                            "directory")
